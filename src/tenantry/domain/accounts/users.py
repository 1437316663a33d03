"""The signed-in user's profile (SPEC §6 `/v1/me`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.caching import EpochCache
from tenantry.domain.events.outbox import Event, record_events
from tenantry.errors import PermissionDenied, Unauthenticated
from tenantry.storage.database import Database
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.models import Membership, Tenant, User


@dataclass(frozen=True)
class MembershipView:
    tenant_id: uuid.UUID
    tenant_name: str
    tenant_kind: str
    tenant_status: str
    role: str
    plan: str
    created_at: datetime


@dataclass(frozen=True)
class Profile:
    id: uuid.UUID
    email: str
    name: str
    email_verified: bool
    default_tenant_id: uuid.UUID | None
    created_at: datetime
    memberships: list[MembershipView]


async def list_memberships(session: AsyncSession, *, user_id: uuid.UUID) -> list[MembershipView]:
    rows = await session.execute(
        select(
            Tenant.id,
            Tenant.name,
            Tenant.kind,
            Tenant.status,
            Membership.role,
            Tenant.plan,
            Membership.created_at,
        )
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == user_id)
        .order_by(Membership.created_at, Tenant.id)
    )
    return [MembershipView(*row) for row in rows]


class ProfileReader:
    """`get_profile` behind an access-epoch cache: profile writes bump the epoch."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: EpochCache[uuid.UUID, Profile] = EpochCache()

    async def get(self, user_id: uuid.UUID) -> Profile:
        epoch = self._db.epoch.current()
        profile = self._cache.get(user_id, epoch=epoch)
        if profile is None:
            async with self._db.read() as session:
                profile = await get_profile(session, user_id=user_id)
            self._cache.put(user_id, profile, epoch=epoch)
        return profile


async def get_profile(session: AsyncSession, *, user_id: uuid.UUID) -> Profile:
    user = await session.get(User, user_id)
    if user is None:
        raise Unauthenticated("The access token is revoked.", code="token_revoked")
    return Profile(
        id=user.id,
        email=user.email,
        name=user.name,
        email_verified=user.email_verified,
        default_tenant_id=user.default_tenant_id,
        created_at=user.created_at,
        memberships=await list_memberships(session, user_id=user_id),
    )


async def update_profile(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    now: datetime,
    name: str | None = None,
    default_tenant_id: uuid.UUID | None = None,
) -> None:
    """Rename the user and/or choose the tenant that new tokens carry as `tenant`."""
    user = await session.get(User, user_id)
    if user is None:
        raise Unauthenticated("The access token is revoked.", code="token_revoked")
    if default_tenant_id is not None:
        member = await session.scalar(
            select(Membership.id).where(
                Membership.user_id == user_id, Membership.tenant_id == default_tenant_id
            )
        )
        if member is None:
            raise PermissionDenied(
                "You are not a member of this tenant.", code="tenant_access_denied"
            )
        user.default_tenant_id = default_tenant_id
    if name is not None:
        user.name = name
    user.updated_at = now
    changed = {"name": name, "default_tenant_id": default_tenant_id}
    data = {key: str(value) for key, value in changed.items() if value is not None}
    await record_events(session, [Event("user.updated", None, user_id, data)], now=now)
    await bump_access_epoch(session)
