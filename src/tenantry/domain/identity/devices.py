"""Device proofs (OWASP's device cookies): a successful sign-in hands its client a token bound
to the account, and a client that presents it later has proved it signed in before. Such a
client is held to its own sign-in and mail allowances, so that strangers flooding an account
cannot lock its owner out. Nothing is stored: the token is a random id and its keyed hash."""

from __future__ import annotations

import secrets
import uuid

from tenantry.domain.identity.secrets import SecretHasher

PURPOSE = "device"
MAX_TOKEN_LENGTH = 200


class DeviceProofs:
    def __init__(self, hasher: SecretHasher) -> None:
        self._hasher = hasher

    def issue(self, user_id: uuid.UUID, token: str | None) -> str:
        """The device token a sign-in of `user_id` hands out: the one its client presented
        if it holds for this account, else a new one."""
        if token is not None and self.device_of(user_id, token) is not None:
            return token
        device_id = secrets.token_urlsafe(16)
        return f"{device_id}.{self._hasher.digest(PURPOSE, str(user_id), device_id)}"

    def device_of(self, user_id: uuid.UUID | None, token: str | None) -> str | None:
        """The device id `token` proves for `user_id`, or None. An unknown account costs the
        same hash as a known one."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        device_id, _, digest = token.partition(".")
        owner = str(user_id) if user_id is not None else "nobody"
        if self._hasher.matches(digest, PURPOSE, owner, device_id) and user_id is not None:
            return device_id
        return None
