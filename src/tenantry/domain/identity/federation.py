"""Access tokens from trusted external OIDC issuers (Cognito, Keycloak, Auth0, ...), verified
against the issuer's published keys; which account they sign in as is external_accounts'
business. See docs/federation.md."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import jwt
import structlog

from tenantry.clock import Clock
from tenantry.domain.identity.issuers import TrustedIssuer
from tenantry.domain.identity.tokens import KEY_BEARING_HEADERS
from tenantry.errors import Unauthenticated

log = structlog.get_logger("tenantry.federation")

ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
JWKS_REFRESH_INTERVAL = timedelta(seconds=30)  # at most one refetch per interval for unknown kids
JWKS_MAX_AGE = timedelta(minutes=10)  # keys the issuer dropped stop working within this
MAX_SUBJECT_LENGTH = 255  # external_identities.subject
MAX_EMAIL_LENGTH = 320  # users.email


class JwksUnavailable(Exception):
    """The issuer's JWKS document could not be had (unreachable, an error status, too slow,
    too big); the message says what went wrong."""


class JwksSource(Protocol):
    async def fetch(self, url: str) -> bytes:
        """The JWKS document at `url`, or JwksUnavailable."""
        ...


@dataclass(frozen=True)
class ExternalClaims:
    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    issued_at: int
    expires_at: int


def _invalid() -> Unauthenticated:
    return Unauthenticated("The access token is invalid.", code="invalid_token")


class IssuerKeys:
    """One issuer's JWKS, fetched from `source`: refetched when a token names a key it does not
    hold (at most once per refresh interval, however many such tokens arrive) and when older
    than the maximum age. A failed fetch keeps the keys held so far."""

    def __init__(self, issuer: TrustedIssuer, source: JwksSource, clock: Clock) -> None:
        self.issuer = issuer
        self._source = source
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: datetime | None = None  # the last attempt, successful or not
        self._fetching = asyncio.Lock()

    async def key(self, kid: str) -> jwt.PyJWK | None:
        held = self._keys.get(kid)
        # A refresh in flight never holds up a token whose key we already have.
        if held is not None and (self._fresh() or self._fetching.locked()):
            return held
        async with self._fetching:
            if (kid not in self._keys or not self._fresh()) and self._may_fetch():
                self._fetched_at = self._clock.now()
                self._keys = await self._fetch() or self._keys
            return self._keys.get(kid)

    def _fresh(self) -> bool:
        fetched = self._fetched_at
        return fetched is not None and self._clock.now() - fetched <= JWKS_MAX_AGE

    def _may_fetch(self) -> bool:
        fetched = self._fetched_at
        return fetched is None or self._clock.now() - fetched >= JWKS_REFRESH_INTERVAL

    async def _fetch(self) -> dict[str, jwt.PyJWK] | None:
        try:
            return _signing_keys(json.loads(await self._source.fetch(self.issuer.jwks_uri)))
        except JwksUnavailable as unavailable:
            error = str(unavailable)
        except (ValueError, RecursionError) as junk:
            error = repr(junk)
        log.warning("jwks_fetch_failed", issuer=self.issuer.issuer, error=error)
        return None


def _signing_keys(document: object) -> dict[str, jwt.PyJWK]:
    """The usable signature keys of a JWKS document by kid; a document without any is junk."""
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError("not a JWKS document")
    keys = {key.key_id: key for key in map(_signing_key, entries) if key and key.key_id}
    if not keys:
        raise ValueError("the JWKS holds no usable signing key")
    return keys


def _signing_key(entry: object) -> jwt.PyJWK | None:
    """An RSA or EC signature key for one of our algorithms; HMAC secrets, encryption keys and
    malformed entries are skipped."""
    if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
        return None
    if not isinstance(entry.get("kid"), str) or entry.get("kty") not in ("RSA", "EC"):
        return None
    if "alg" in entry and entry["alg"] not in ASYMMETRIC_ALGORITHMS:
        return None
    try:
        return jwt.PyJWK(entry)
    except (jwt.PyJWTError, TypeError, ValueError):
        return None


class FederatedTokens:
    def __init__(self, *, issuers: Sequence[TrustedIssuer], jwks: JwksSource, clock: Clock) -> None:
        self._issuers = {item.issuer: IssuerKeys(item, jwks, clock) for item in issuers}
        self._clock = clock

    def trusts(self, issuer: object) -> bool:
        return isinstance(issuer, str) and issuer in self._issuers

    def trusted_issuer(self, issuer: str) -> TrustedIssuer:
        return self._issuers[issuer].issuer

    async def verify_any(self, token: str) -> ExternalClaims:
        """`verify` for a token of whichever trusted issuer it names; others are invalid."""
        issuer = unverified_issuer(token)
        if not self.trusts(issuer):
            raise _invalid()
        assert isinstance(issuer, str)
        return await self.verify(token, issuer=issuer)

    async def verify(self, token: str, *, issuer: str) -> ExternalClaims:
        keys = self._issuers[issuer]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise _invalid() from error
        kid, alg = header.get("kid"), header.get("alg")
        if alg not in ASYMMETRIC_ALGORITHMS or KEY_BEARING_HEADERS & header.keys():
            raise _invalid()
        key = await keys.key(kid) if isinstance(kid, str) else None
        if key is None:
            raise _invalid()
        payload = _decode(token, key, str(alg), issuer)
        self._check_times(payload)
        _check_audience(payload, keys.issuer.audience)
        return _claims(payload, issuer)

    def _check_times(self, payload: dict[str, Any]) -> None:
        now = self._clock.now().timestamp()
        if not _is_number(payload["exp"]) or payload["exp"] <= now:
            raise Unauthenticated("The access token has expired.", code="token_expired")
        not_before = payload.get("nbf", now)
        if not _is_number(payload["iat"]) or not _is_number(not_before) or not_before > now:
            raise _invalid()


def _decode(token: str, key: jwt.PyJWK, alg: str, issuer: str) -> dict[str, Any]:
    """The signed payload; times and audience are checked apart, against our clock."""
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[alg],
            issuer=issuer,
            options={
                "require": ["iss", "sub", "exp", "iat"],
                "verify_aud": False,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError as error:
        raise _invalid() from error
    return payload


def _check_audience(payload: dict[str, Any], audience: str) -> None:
    claimed = payload.get("aud")
    if claimed is None:
        # Cognito access tokens carry no `aud`: the app client is in `client_id`.
        accepted = payload.get("client_id") == audience and payload.get("token_use") == "access"
    else:
        accepted = audience in (claimed if isinstance(claimed, list) else [claimed])
    if not accepted:
        raise _invalid()


def _claims(payload: dict[str, Any], issuer: str) -> ExternalClaims:
    subject = payload["sub"]
    if not subject or len(subject) > MAX_SUBJECT_LENGTH:
        raise _invalid()
    email = payload.get("email")
    email = email.strip() if isinstance(email, str) else ""
    return ExternalClaims(
        issuer=issuer,
        subject=subject,
        email=email if "@" in email and len(email) <= MAX_EMAIL_LENGTH else None,
        email_verified=payload.get("email_verified") is True,
        issued_at=int(payload["iat"]),
        expires_at=int(payload["exp"]),
    )


def _is_number(value: object) -> bool:
    """A NumericDate: JSON parsing also yields booleans, NaN and infinities."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def unverified_issuer(token: str) -> object:
    """The `iss` a token claims, before anything about it is checked."""
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None
