"""Access tokens: RS256 JWTs (RFC 9068 `at+jwt`) checked strictly, with verified tokens cached
in process until they expire so the hot path skips the RSA verification."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from tenantry.clock import Clock
from tenantry.domain.caching import ExpiringCache
from tenantry.domain.identity.keys import ALGORITHM, KeyRing
from tenantry.errors import Unauthenticated

AUDIENCE = "tenantry"
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 (a media type, not a secret)
# Headers that would let a token choose its own verification key.
KEY_BEARING_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256", "crit"})
KID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
REQUIRED_CLAIMS = ["iss", "sub", "aud", "iat", "exp", "jti", "sid"]
VERIFIED_CACHE_SIZE = 20_000


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    email: str
    email_verified: bool
    tenant_id: uuid.UUID | None
    issued_at: int
    expires_at: int


@dataclass(frozen=True)
class TokenSubject:
    """Who an access token is being issued to."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    email: str
    email_verified: bool
    tenant_id: uuid.UUID | None


def _invalid(detail: str = "The access token is invalid.") -> Unauthenticated:
    return Unauthenticated(detail, code="invalid_token")


class AccessTokens:
    def __init__(self, *, keys: KeyRing, clock: Clock, issuer: str, ttl: int) -> None:
        self._keys = keys
        self._clock = clock
        self.issuer = issuer
        self.ttl = ttl
        self._verified: ExpiringCache[str, AccessClaims] = ExpiringCache(
            max_entries=VERIFIED_CACHE_SIZE
        )

    def issue(self, subject: TokenSubject) -> str:
        key = self._keys.current()
        now = int(self._clock.now().timestamp())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": str(subject.user_id),
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + self.ttl,
            "jti": secrets.token_urlsafe(16),
            "sid": str(subject.session_id),
            "email": subject.email,
            "email_verified": subject.email_verified,
            "tenant": str(subject.tenant_id) if subject.tenant_id else None,
        }
        headers = {"kid": key.kid, "typ": ACCESS_TOKEN_TYPE}
        return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers=headers)

    def is_known(self, token: str) -> bool:
        """Whether `token` was verified before (cheap; no parsing)."""
        return token in self._verified

    async def verify(self, token: str) -> AccessClaims:
        """The token's claims, or `Unauthenticated` for anything not signed and shaped by us."""
        now = int(self._clock.now().timestamp())
        cached = self._verified.get(token, now=now)
        if cached is not None:
            return cached
        claims = self._from_payload(await self._decode(token))
        if claims.expires_at <= now:
            raise Unauthenticated("The access token has expired.", code="token_expired")
        self._verified.put(token, claims, expires_at=claims.expires_at, now=now)
        return claims

    async def _decode(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise _invalid() from error
        kid = header.get("kid")
        if (
            header.get("alg") != ALGORITHM
            or header.get("typ") != ACCESS_TOKEN_TYPE
            or KEY_BEARING_HEADERS & header.keys()
            or not isinstance(kid, str)
            or not KID_PATTERN.fullmatch(kid)
        ):
            raise _invalid()
        public_key = await self._keys.public_key(kid)
        if public_key is None:
            raise _invalid()
        now = self._clock.now().timestamp()
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                public_key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=self.issuer,
                options={
                    "require": REQUIRED_CLAIMS,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError as error:
            raise _invalid() from error
        not_before = payload.get("nbf")
        if not_before is not None and (not isinstance(not_before, int) or not_before > now):
            raise _invalid()
        return payload

    @staticmethod
    def _from_payload(payload: dict[str, Any]) -> AccessClaims:
        try:
            tenant = payload.get("tenant")
            return AccessClaims(
                user_id=uuid.UUID(payload["sub"]),
                session_id=uuid.UUID(payload["sid"]),
                email=str(payload.get("email", "")),
                email_verified=bool(payload.get("email_verified", False)),
                tenant_id=uuid.UUID(tenant) if tenant else None,
                issued_at=int(payload["iat"]),
                expires_at=int(payload["exp"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise _invalid() from error
