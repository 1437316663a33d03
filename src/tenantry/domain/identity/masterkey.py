"""The master key that encrypts secrets at rest, its files in the data dir, and the AES-GCM box
built on it.

A data-dir key lives in `master.key`. A rotation stages the new key in `master.key.next` before
it re-encrypts the database and promotes it afterwards, keeping the replaced key as
`master.key.previous`; every step is an atomic rename, so a crash leaves `master.key` whole and
start-up can tell from the database which of the two keys is in use."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tenantry.storage.private_files import private_directory

NONCE_BYTES = 12
KEY_BYTES = 32
MASTER_KEY_FILE = "master.key"
NEXT_KEY_FILE = "master.key.next"
PREVIOUS_KEY_FILE = "master.key.previous"


def stretch(configured: str) -> bytes:
    """A configured key (any string) as 32 bytes of key material."""
    return hashlib.sha256(configured.encode()).digest()


def new_master_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def load_or_create_master_key(*, configured: str | None, data_dir: Path) -> bytes:
    """The configured key (any string, stretched to 32 bytes), else the one in the data dir,
    created with owner-only permissions on first start."""
    if configured:
        return stretch(configured)
    path = data_dir / MASTER_KEY_FILE
    if not path.exists():
        private_directory(data_dir)
        with contextlib.suppress(FileExistsError):  # another worker made it first: use theirs
            _write_key_file(path, new_master_key())
    return _decode(path.read_bytes())


def read_key_file(path: Path) -> bytes | None:
    try:
        return _decode(path.read_bytes())
    except FileNotFoundError:
        return None


def write_next_key(data_dir: Path, key: bytes) -> None:
    """Stage `key` as `master.key.next` (0600, on disk) before the database is re-encrypted
    under it, so the key outlives a crash after the commit."""
    path = data_dir / NEXT_KEY_FILE
    path.unlink(missing_ok=True)
    _write_key_file(path, key)
    _sync_directory(data_dir)


def promote_next_key(data_dir: Path) -> None:
    """Make `master.key.next` the master key, keeping the replaced one as
    `master.key.previous`. Safe to repeat after a crash, and a no-op once done."""
    current, staged = data_dir / MASTER_KEY_FILE, data_dir / NEXT_KEY_FILE
    old = read_key_file(current)
    if not staged.exists() or old is None:
        return
    spare = data_dir / f"{PREVIOUS_KEY_FILE}.{os.getpid()}.tmp"
    spare.unlink(missing_ok=True)
    _write_key_file(spare, old)
    os.replace(spare, data_dir / PREVIOUS_KEY_FILE)
    with contextlib.suppress(FileNotFoundError):  # another process promoted it a moment ago
        os.replace(staged, current)
    _sync_directory(data_dir)


def discard_next_key(data_dir: Path) -> None:
    """Forget a staged key whose rotation never committed."""
    (data_dir / NEXT_KEY_FILE).unlink(missing_ok=True)
    _sync_directory(data_dir)


def _decode(encoded: bytes) -> bytes:
    return base64.b64decode(encoded.strip())


def _write_key_file(path: Path, key: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(base64.b64encode(key))
        handle.flush()
        os.fsync(handle.fileno())


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def derive_key(master_key: bytes, purpose: str) -> bytes:
    """A sub-key per purpose, so no two uses of the master key ever share key material."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode())
    return hkdf.derive(master_key)


class SecretBox:
    """Authenticated encryption of secrets at rest; `context` binds a ciphertext to its row.
    Seals under the master key; opens under it or a `previous` key, so values that a server
    not yet restarted after a rotation sealed with the old key stay readable."""

    def __init__(self, master_key: bytes, *, previous: Sequence[bytes] = ()) -> None:
        self.use(master_key, previous=previous)

    def use(self, master_key: bytes, *, previous: Sequence[bytes] = ()) -> None:
        """Switch keys in place: every service holding this box follows."""
        self.master_key = master_key
        keys = (master_key, *previous)
        self._aeads = [AESGCM(derive_key(key, "tenantry/secret-box")) for key in keys]

    def encrypt(self, plaintext: bytes, *, context: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aeads[0].encrypt(nonce, plaintext, context.encode())

    def decrypt(self, ciphertext: bytes, *, context: str) -> bytes:
        """The plaintext; `InvalidTag` when no key opens it (tampered, or another row's)."""
        nonce, sealed = ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:]
        associated = context.encode()
        current, *previous = self._aeads
        try:
            return current.decrypt(nonce, sealed, associated)
        except InvalidTag:
            for aead in previous:
                with contextlib.suppress(InvalidTag):
                    return aead.decrypt(nonce, sealed, associated)
            raise
