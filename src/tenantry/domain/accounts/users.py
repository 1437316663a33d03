"""The signed-in user's profile (SPEC §6 `/v1/me`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field
from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.caching import CachedReader
from tenantry.domain.events.outbox import Event, record_events
from tenantry.domain.pagination import Page, PageRequest, make_page, paginate
from tenantry.domain.readmodel import ReadModel
from tenantry.errors import PermissionDenied, Unauthenticated
from tenantry.storage.database import Database
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.models import Membership, Tenant, User


class MembershipView(ReadModel):
    tenant_id: uuid.UUID
    tenant_name: str
    tenant_kind: str
    tenant_status: str
    role: str
    plan: str
    # When the user joined: it orders the pages, but the REST body does not show it.
    created_at: datetime = Field(exclude=True)


class Profile(ReadModel):
    id: uuid.UUID
    email: str
    name: str
    email_verified: bool
    default_tenant_id: uuid.UUID | None
    created_at: datetime
    memberships: list[MembershipView]


class Users:
    """What signed-in users change about their own account. Their profiles are read through
    `profiles` (`get_profile` under the access epoch); a change bumps the epoch, so the profile
    a change returns is loaded afresh, and so is every other process's next read of it."""

    def __init__(
        self, *, db: Database, clock: Clock, profiles: CachedReader[uuid.UUID, Profile]
    ) -> None:
        self._db = db
        self._clock = clock
        self._profiles = profiles

    async def update_profile(
        self,
        *,
        user_id: uuid.UUID,
        name: str | None = None,
        default_tenant_id: uuid.UUID | None = None,
    ) -> Profile:
        """As `update_profile`, then the profile as it is now: a tenant the user is no member
        of is PermissionDenied `tenant_access_denied`."""
        async with self._db.transaction() as session:
            await update_profile(
                session,
                user_id=user_id,
                now=self._clock.now(),
                name=name,
                default_tenant_id=default_tenant_id,
            )
        return await self._profiles.get(user_id)


def _memberships_of(
    user_id: uuid.UUID,
) -> Select[uuid.UUID, str, str, str, str, str, datetime]:
    return (
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
    )


async def list_memberships(session: AsyncSession, *, user_id: uuid.UUID) -> list[MembershipView]:
    """All of the user's memberships, oldest first (the profile shows them all)."""
    rows = await session.execute(
        _memberships_of(user_id).order_by(Membership.created_at, Tenant.id)
    )
    return [MembershipView.of_row(row) for row in rows]


async def page_memberships(
    session: AsyncSession, *, user_id: uuid.UUID, page: PageRequest
) -> Page[MembershipView]:
    statement = paginate(
        _memberships_of(user_id), page, created_at=Membership.created_at, row_id=Tenant.id
    )
    views = [MembershipView.of_row(row) for row in await session.execute(statement)]
    return make_page(views, page, key=lambda view: (view.created_at, view.tenant_id))


async def get_profile(session: AsyncSession, user_id: uuid.UUID) -> Profile:
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


async def fall_back_to_personal_tenant(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID | None = None
) -> None:
    """Users (or the one user) whose default tenant is `tenant_id`, which they are leaving or
    which is going away, default to their personal tenant again."""
    personal = select(Tenant.id).where(Tenant.personal_owner_id == User.id).scalar_subquery()
    leaving = User.default_tenant_id == tenant_id
    if user_id is not None:
        leaving &= User.id == user_id
    await session.execute(update(User).where(leaving).values(default_tenant_id=personal))
