"""Authenticating a request: the access token's signature and claims, then one read that checks
the user, the session and, for tenant-scoped routes, the membership and tenant status."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import and_, select

from tenantry.clock import Clock
from tenantry.domain.identity.tokens import AccessTokens
from tenantry.errors import PermissionDenied, Unauthenticated
from tenantry.storage.database import Database
from tenantry.storage.models import Membership, Session, Tenant, User


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    session_id: uuid.UUID
    email: str
    is_platform_admin: bool


@dataclass(frozen=True)
class TenantAccess:
    tenant_id: uuid.UUID
    role: str


def tenant_access_denied() -> PermissionDenied:
    return PermissionDenied("You are not a member of this tenant.", code="tenant_access_denied")


def _revoked() -> Unauthenticated:
    return Unauthenticated("The access token is revoked.", code="token_revoked")


class Authenticator:
    def __init__(self, *, db: Database, tokens: AccessTokens, clock: Clock) -> None:
        self._db = db
        self._tokens = tokens
        self._clock = clock

    async def authenticate(
        self, token: str, *, tenant_id: uuid.UUID | None = None
    ) -> tuple[Principal, TenantAccess | None]:
        claims = await self._tokens.verify(token)
        columns = [
            User.tokens_valid_after,
            User.disabled_at,
            User.is_platform_admin,
            Session.revoked_at,
            Session.expires_at,
        ]
        statement = (
            select(*columns, Membership.role, Tenant.status)
            .select_from(User)
            .join(Session, and_(Session.user_id == User.id, Session.id == claims.session_id))
            .outerjoin(
                Membership, and_(Membership.user_id == User.id, Membership.tenant_id == tenant_id)
            )
            .outerjoin(Tenant, Tenant.id == Membership.tenant_id)
            .where(User.id == claims.user_id)
        )
        async with self._db.read() as session:
            row = (await session.execute(statement)).one_or_none()
        if row is None:
            raise _revoked()
        if (
            row.disabled_at is not None
            or row.revoked_at is not None
            or row.expires_at <= self._clock.now()
            or claims.issued_at < int(row.tokens_valid_after.timestamp())
        ):
            raise _revoked()
        principal = Principal(
            claims.user_id, claims.session_id, claims.email, row.is_platform_admin
        )
        if tenant_id is None:
            return principal, None
        if row.role is None:
            raise tenant_access_denied()
        if row.status != "active":
            raise PermissionDenied("This tenant is disabled.", code="tenant_disabled")
        return principal, TenantAccess(tenant_id, row.role)
