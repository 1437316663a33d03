"""Access tokens from trusted external OIDC issuers (Cognito, Keycloak, Auth0, ...): verified
against the issuer's published keys, then mapped to a Tenantry user by (issuer, subject), the
user being created and onboarded on first sight."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.identity.activation import activate_user
from tenantry.domain.identity.deps import IdentityDeps
from tenantry.domain.identity.tokens import KEY_BEARING_HEADERS
from tenantry.errors import Unauthenticated
from tenantry.settings import TrustedIssuer
from tenantry.storage.models import ExternalIdentity
from tenantry.storage.upsert import insert_on_conflict

ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
JWKS_REFRESH_INTERVAL = timedelta(seconds=30)


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
    """One issuer's JWKS, fetched over HTTP and refetched (at most every 30 s) when a token
    names a key it does not hold."""

    def __init__(self, issuer: TrustedIssuer, http: httpx.AsyncClient, clock: Clock) -> None:
        self.issuer = issuer
        self._http = http
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: datetime | None = None

    async def key(self, kid: str) -> jwt.PyJWK | None:
        now = self._clock.now()
        stale = self._fetched_at is None or now - self._fetched_at > JWKS_REFRESH_INTERVAL
        if kid not in self._keys and stale:
            self._fetched_at = now
            self._keys = await self._fetch()
        return self._keys.get(kid)

    async def _fetch(self) -> dict[str, jwt.PyJWK]:
        try:
            response = await self._http.get(self.issuer.jwks_uri)
            response.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(response.json()).keys
        except (httpx.HTTPError, ValueError, jwt.PyJWTError):
            return self._keys
        return {key.key_id: key for key in keys if key.key_id}


class FederatedTokens:
    def __init__(
        self, *, issuers: list[TrustedIssuer], http: httpx.AsyncClient, clock: Clock
    ) -> None:
        self._issuers = {item.issuer: IssuerKeys(item, http, clock) for item in issuers}
        self._clock = clock

    def trusts(self, issuer: object) -> bool:
        return isinstance(issuer, str) and issuer in self._issuers

    async def verify(self, token: str, *, issuer: str) -> ExternalClaims:
        keys = self._issuers[issuer]
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        if header.get("alg") not in ASYMMETRIC_ALGORITHMS or KEY_BEARING_HEADERS & header.keys():
            raise _invalid()
        key = await keys.key(kid) if isinstance(kid, str) else None
        if key is None:
            raise _invalid()
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[str(header["alg"])],
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
        self._check_times_and_audience(payload, keys.issuer.audience)
        return ExternalClaims(
            issuer=issuer,
            subject=str(payload["sub"]),
            email=payload.get("email") if isinstance(payload.get("email"), str) else None,
            email_verified=payload.get("email_verified") is True,
            issued_at=int(payload["iat"]),
            expires_at=int(payload["exp"]),
        )

    def _check_times_and_audience(self, payload: dict[str, Any], audience: str) -> None:
        now = self._clock.now().timestamp()
        if not isinstance(payload["exp"], int | float) or payload["exp"] <= now:
            raise Unauthenticated("The access token has expired.", code="token_expired")
        not_before = payload.get("nbf")
        if not_before is not None and (not isinstance(not_before, int | float) or not_before > now):
            raise _invalid()
        claimed = payload.get("aud")
        audiences = claimed if isinstance(claimed, list) else [claimed]
        # Cognito access tokens carry the app client in `client_id` instead of `aud`.
        if audience not in audiences and payload.get("client_id") != audience:
            raise _invalid()


async def resolve_external_user(deps: IdentityDeps, claims: ExternalClaims) -> uuid.UUID:
    """The user linked to (issuer, subject), linking or creating one on first sight. An
    existing local account is linked only when the issuer vouches for the email."""
    async with deps.db.read() as session:
        linked = await _linked_user(session, claims)
    if linked is not None:
        return linked
    if not claims.email:
        raise Unauthenticated(
            "The token carries no email to create an account with.", code="external_email_required"
        )
    async with deps.db.transaction() as session:
        now = deps.clock.now()
        known = await deps.user_by_email(session, claims.email)
        user = known or await deps.ensure_user(session, email=claims.email)
        if known is not None and not claims.email_verified:
            raise Unauthenticated(
                "This email belongs to another account.", code="external_email_conflict"
            )
        if not user.email_verified:
            await activate_user(session, user=user, password_hash=None, now=now, faults=deps.faults)
        await session.execute(
            insert_on_conflict(session, ExternalIdentity)
            .values(issuer=claims.issuer, subject=claims.subject, user_id=user.id, created_at=now)
            .on_conflict_do_nothing(index_elements=["issuer", "subject"])
        )
        winner = await _linked_user(session, claims)
    assert winner is not None
    return winner


async def _linked_user(session: AsyncSession, claims: ExternalClaims) -> uuid.UUID | None:
    return await session.scalar(
        select(ExternalIdentity.user_id).where(
            ExternalIdentity.issuer == claims.issuer, ExternalIdentity.subject == claims.subject
        )
    )
