"""Standard Webhooks signatures (https://www.standardwebhooks.com): the secret is
`whsec_` + base64 of random bytes; the `standardwebhooks` reference library signs each message
(HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`, sent as `v1,<base64 signature>`)."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_context(endpoint_id: uuid.UUID) -> str:
    """The associated data a webhook endpoint's secret is sealed with."""
    return f"webhook-secret:{endpoint_id}"


def message_id(event_id: uuid.UUID) -> str:
    """One id per event: the same on every retry and redelivery, so receivers can dedupe."""
    return f"msg_{event_id.hex}"


def headers(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one delivery of `body` (UTF-8 JSON)."""
    # The library signs text and takes the timestamp as a datetime, whose whole seconds it signs.
    signature = Webhook(secret).sign(
        msg_id, datetime.fromtimestamp(timestamp, tz=UTC), body.decode()
    )
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
