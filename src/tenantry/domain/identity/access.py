"""Authenticating a request: the access token (ours, or one from a trusted issuer), then one read
that checks the user, the session and, for tenant-scoped routes, the membership and tenant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, and_, select

from tenantry.clock import Clock
from tenantry.domain.caching import EpochCache, ExpiringCache
from tenantry.domain.identity.external_accounts import ExternalAccounts
from tenantry.domain.identity.federation import FederatedTokens, unverified_issuer
from tenantry.domain.identity.tokens import AccessTokens
from tenantry.domain.identity.toolkit import IdentityToolkit
from tenantry.errors import PermissionDenied, Unauthenticated
from tenantry.storage.database import Database
from tenantry.storage.models import Membership, Session, Tenant, User

# user valid-after, disabled, admin; session revoked, expires; membership role; tenant status
_AccessRow = Row[datetime, datetime | None, bool, datetime | None, datetime, str, str]


EXTERNAL_CACHE_SIZE = 20_000


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    session_id: uuid.UUID | None  # None for tokens from a trusted external issuer
    email: str
    is_platform_admin: bool


@dataclass(frozen=True)
class TenantAccess:
    tenant_id: uuid.UUID
    role: str


@dataclass(frozen=True)
class _Identity:
    user_id: uuid.UUID
    session_id: uuid.UUID | None
    email: str
    issued_at: int
    external: bool = False


def tenant_access_denied() -> PermissionDenied:
    return PermissionDenied("You are not a member of this tenant.", code="tenant_access_denied")


def _revoked() -> Unauthenticated:
    return Unauthenticated("The access token is revoked.", code="token_revoked")


class Authenticator:
    def __init__(
        self, *, toolkit: IdentityToolkit, federated: FederatedTokens, accounts: ExternalAccounts
    ) -> None:
        self._accounts = accounts
        self._db: Database = toolkit.db
        self._tokens: AccessTokens = toolkit.tokens
        self._clock: Clock = toolkit.clock
        self._federated = federated
        self._decisions: EpochCache[
            tuple[uuid.UUID, uuid.UUID | None, uuid.UUID | None], _AccessRow | None
        ] = EpochCache()
        self._external: ExpiringCache[str, _Identity] = ExpiringCache(
            max_entries=EXTERNAL_CACHE_SIZE
        )

    async def authenticate(
        self, token: str, *, tenant_id: uuid.UUID | None = None
    ) -> tuple[Principal, TenantAccess | None]:
        return await self._authorize(await self._identify(token), tenant_id)

    async def authenticate_session(
        self,
        *,
        user_id: uuid.UUID,
        session_id: uuid.UUID,
        email: str,
        signed_in_at: datetime,
        tenant_id: uuid.UUID | None = None,
    ) -> tuple[Principal, TenantAccess | None]:
        """The same checks for a browser's web session, already resolved from its cookie: as
        if it held an access token of its session issued when it signed in."""
        issued_at = int(signed_in_at.timestamp())
        return await self._authorize(_Identity(user_id, session_id, email, issued_at), tenant_id)

    async def _authorize(
        self, identity: _Identity, tenant_id: uuid.UUID | None
    ) -> tuple[Principal, TenantAccess | None]:
        key = (identity.user_id, identity.session_id, tenant_id)
        epoch = self._db.epoch.current()
        row = self._decisions.get(key, epoch=epoch)
        if row is None:
            row = await self._load(identity, tenant_id)
            if _is_grant(row, tenant_id):
                self._decisions.put(key, row, epoch=epoch)
        return self._decide(identity, tenant_id, row)

    async def _load(self, identity: _Identity, tenant_id: uuid.UUID | None) -> _AccessRow | None:
        statement = (
            select(
                User.tokens_valid_after,
                User.disabled_at,
                User.is_platform_admin,
                Session.revoked_at,
                Session.expires_at,
                Membership.role,
                Tenant.status,
            )
            .select_from(User)
            .outerjoin(Session, and_(Session.user_id == User.id, Session.id == identity.session_id))
            .outerjoin(
                Membership, and_(Membership.user_id == User.id, Membership.tenant_id == tenant_id)
            )
            .outerjoin(Tenant, Tenant.id == Membership.tenant_id)
            .where(User.id == identity.user_id)
        )
        async with self._db.read() as session:
            return (await session.execute(statement)).one_or_none()

    def _decide(
        self, identity: _Identity, tenant_id: uuid.UUID | None, row: _AccessRow | None
    ) -> tuple[Principal, TenantAccess | None]:
        if row is None or row.disabled_at is not None:
            raise _revoked()
        if identity.session_id is not None and (
            row.expires_at is None
            or row.revoked_at is not None
            or row.expires_at <= self._clock.now()
        ):
            raise _revoked()
        if identity.issued_at < int(row.tokens_valid_after.timestamp()):
            raise _revoked()
        if identity.external and row.is_platform_admin:
            # An issuer's say-so never opens the platform: admins sign in with Tenantry.
            raise PermissionDenied(
                "Platform admins cannot sign in with an external token.",
                code="external_token_refused",
            )
        principal = Principal(
            identity.user_id, identity.session_id, identity.email, row.is_platform_admin
        )
        if tenant_id is None:
            return principal, None
        if row.role is None:
            raise tenant_access_denied()
        if row.status != "active":
            raise PermissionDenied("This tenant is disabled.", code="tenant_disabled")
        return principal, TenantAccess(tenant_id, row.role)

    async def _identify(self, token: str) -> _Identity:
        issuer = None if self._tokens.is_known(token) else unverified_issuer(token)
        if issuer != self._tokens.issuer and self._federated.trusts(issuer):
            assert isinstance(issuer, str)
            return await self._identify_external(token, issuer)
        claims = await self._tokens.verify(token)
        return _Identity(claims.user_id, claims.session_id, claims.email, claims.issued_at)

    async def _identify_external(self, token: str, issuer: str) -> _Identity:
        """Verify and link an external token once; its identity is reused until it expires
        (the user, session and tenant checks still run on every request)."""
        now = int(self._clock.now().timestamp())
        cached = self._external.get(token, now=now)
        if cached is not None:
            return cached
        external = await self._federated.verify(token, issuer=issuer)
        user = await self._accounts.resolve(external)
        identity = _Identity(user.user_id, None, user.email, external.issued_at, external=True)
        self._external.put(token, identity, expires_at=external.expires_at, now=now)
        return identity


def _is_grant(row: _AccessRow | None, tenant_id: uuid.UUID | None) -> bool:
    """Only grants are cached: revocations bump the epoch, new grants need no bump."""
    if row is None or row.disabled_at is not None or row.revoked_at is not None:
        return False
    return tenant_id is None or (row.role is not None and row.status == "active")
