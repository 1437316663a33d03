"""Signing keys: RSA keys stored in the database with the private half encrypted, rotated with
old public keys kept in the JWKS until every token they signed has expired."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import or_, select, update

from tenantry.clock import Clock
from tenantry.domain.identity.masterkey import SecretBox
from tenantry.storage.database import Database
from tenantry.storage.models import SigningKey

ALGORITHM = "RS256"
RSA_BITS = 2048
# Tokens signed by a key retired moments ago stay verifiable for their whole lifetime, and
# processes that have not yet reloaded may sign with it a little longer.
RETIREMENT_GRACE = timedelta(minutes=5)
UNKNOWN_KID_RELOAD_INTERVAL = timedelta(seconds=5)


def signing_key_context(kid: str) -> str:
    return f"signing-key:{kid}"


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    public_key: rsa.RSAPublicKey
    private_key: rsa.RSAPrivateKey
    created_at: datetime
    retired_at: datetime | None


class KeyRing:
    """The process's view of the signing keys, reloaded from the database when a token names a
    key it has not seen (another process rotated) and periodically by the server."""

    def __init__(self, *, db: Database, box: SecretBox, clock: Clock, token_ttl: int) -> None:
        self._db = db
        self._box = box
        self._clock = clock
        self._keep_after_retirement = timedelta(seconds=token_ttl) + RETIREMENT_GRACE
        self._keys: dict[str, LoadedKey] = {}
        self._loaded_at = datetime.min.replace(tzinfo=clock.now().tzinfo)

    async def ensure_current(self) -> None:
        """Create the first signing key on first start, then load the ring."""
        async with self._db.transaction() as session:
            active = await session.scalar(
                select(SigningKey.kid).where(SigningKey.retired_at.is_(None)).limit(1)
            )
            if active is None:
                session.add(self._new_key_row())
        await self.reload()

    async def rotate(self) -> str:
        """Retire the current keys and make a new one current; returns the new `kid`."""
        row = self._new_key_row()
        async with self._db.transaction() as session:
            await session.execute(
                update(SigningKey)
                .where(SigningKey.retired_at.is_(None))
                .values(retired_at=self._clock.now())
            )
            session.add(row)
        await self.reload()
        return row.kid

    async def reload(self) -> None:
        cutoff = self._clock.now() - self._keep_after_retirement
        async with self._db.read() as session:
            rows = await session.scalars(
                select(SigningKey).where(
                    or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > cutoff)
                )
            )
            self._keys = {row.kid: self._load(row) for row in rows}
        self._loaded_at = self._clock.now()

    def current(self) -> LoadedKey:
        live = [key for key in self._keys.values() if key.retired_at is None]
        candidates = live or list(self._keys.values())
        return max(candidates, key=lambda key: key.created_at)

    async def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        key = self._keys.get(kid)
        if key is None and self._clock.now() - self._loaded_at > UNKNOWN_KID_RELOAD_INTERVAL:
            await self.reload()
            key = self._keys.get(kid)
        return key.public_key if key else None

    def jwks(self) -> dict[str, Any]:
        keys = []
        for key in sorted(self._keys.values(), key=lambda k: k.created_at, reverse=True):
            jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key))
            jwk.update(kid=key.kid, use="sig", alg=ALGORITHM)
            keys.append(jwk)
        return {"keys": keys}

    def _new_key_row(self) -> SigningKey:
        kid = secrets.token_urlsafe(12)
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        private_pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public_pem = private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return SigningKey(
            kid=kid,
            algorithm=ALGORITHM,
            public_pem=public_pem.decode(),
            private_key_encrypted=self._box.encrypt(private_pem, context=signing_key_context(kid)),
            created_at=self._clock.now(),
            retired_at=None,
        )

    def _load(self, row: SigningKey) -> LoadedKey:
        private_pem = self._box.decrypt(
            row.private_key_encrypted, context=signing_key_context(row.kid)
        )
        private_key = serialization.load_pem_private_key(private_pem, password=None)
        assert isinstance(private_key, rsa.RSAPrivateKey)
        return LoadedKey(
            kid=row.kid,
            public_key=private_key.public_key(),
            private_key=private_key,
            created_at=row.created_at,
            retired_at=row.retired_at,
        )
