"""The master key that encrypts secrets at rest, and the AES-GCM box built on it."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


def load_or_create_master_key(*, configured: str | None, data_dir: Path) -> bytes:
    """The configured key (any string, stretched to 32 bytes), else the one in the data dir,
    created with owner-only permissions on first start."""
    if configured:
        return hashlib.sha256(configured.encode()).digest()
    path = data_dir / "master.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        encoded = base64.b64encode(secrets.token_bytes(32))
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker created it first; read theirs
        else:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(encoded)
    return base64.b64decode(path.read_bytes().strip())


def derive_key(master_key: bytes, purpose: str) -> bytes:
    """A sub-key per purpose, so no two uses of the master key ever share key material."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode())
    return hkdf.derive(master_key)


class SecretBox:
    """Authenticated encryption of secrets at rest; `context` binds a ciphertext to its row."""

    def __init__(self, master_key: bytes) -> None:
        self._aead = AESGCM(derive_key(master_key, "tenantry/secret-box"))

    def encrypt(self, plaintext: bytes, *, context: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def decrypt(self, ciphertext: bytes, *, context: str) -> bytes:
        nonce, sealed = ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:]
        return self._aead.decrypt(nonce, sealed, context.encode())
