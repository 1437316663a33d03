"""Standard Webhooks signatures (https://www.standardwebhooks.com): the secret is
`whsec_` + base64 of random bytes; each message is signed with HMAC-SHA256 over
`{webhook-id}.{webhook-timestamp}.{body}` and sent as `v1,<base64 signature>`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid

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


def sign(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id=msg_id, timestamp=timestamp, body=body),
        "content-type": "application/json",
    }
