"""One-time secrets: mailed codes and opaque tokens, stored only as keyed hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

CODE_DIGITS = 6


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def new_token(prefix: str) -> str:
    """An opaque bearer secret with 256 bits of entropy."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


class SecretHasher:
    """Keyed hashes (HMAC-SHA256 under a key derived from the hashing key kept sealed in the
    database): a leaked table of 6-digit code hashes cannot be reversed by trying the million
    codes. A hasher made without a key is keyed once the container has loaded it."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key

    def use_key(self, key: bytes) -> None:
        self._key = key

    def digest(self, *parts: str) -> str:
        if self._key is None:
            raise RuntimeError("SecretHasher used before its key was loaded (Container.start)")
        message = "\x1f".join(parts).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def matches(self, expected_digest: str, *parts: str) -> bool:
        return hmac.compare_digest(expected_digest, self.digest(*parts))
