"""A tenant's members (SPEC §6): listing, reading, changing roles and removing. The owner rules
count owners under the tenant lock, so two owners demoting each other at once leave exactly one
owner. The actor's role is the one the request was authorized with. A member evicted, leaving
or demoted takes along the invitations they sent that they may no longer grant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.accounts.capabilities import MANAGE_MEMBERS
from tenantry.domain.accounts.invitations import revoke_beyond_grant
from tenantry.domain.accounts.roles import TenantActor
from tenantry.domain.accounts.tenants import lock_tenant
from tenantry.domain.accounts.users import fall_back_to_personal_tenant
from tenantry.domain.events.outbox import Event, record_events
from tenantry.domain.pagination import Page, PageRequest, make_page, paginate
from tenantry.domain.readmodel import ReadModel
from tenantry.errors import Conflict, NotFound
from tenantry.storage.database import Database
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.models import Membership, TeamMember, Tenant, User

MembersKey = tuple[uuid.UUID, int]  # tenant, limit


class MemberView(ReadModel):
    user_id: uuid.UUID
    email: str
    name: str
    role: str
    joined_at: datetime


_MEMBERS = select(
    Membership.user_id, User.email, User.name, Membership.role, Membership.created_at
).join(User, User.id == Membership.user_id)


def _members_of(tenant_id: uuid.UUID) -> Select[uuid.UUID, str, str, str, datetime]:
    return _MEMBERS.where(Membership.tenant_id == tenant_id)


def member_not_found() -> NotFound:
    return NotFound("No such member in this tenant.", code="member_not_found")


async def list_members(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    page: PageRequest,
    outside_team: uuid.UUID | None = None,
) -> Page[MemberView]:
    """The tenant's members in the order they joined; with `outside_team`, only those not in
    that team (who can be added to it)."""
    members = _members_of(tenant_id)
    if outside_team is not None:
        members = members.where(
            ~select(TeamMember.user_id)
            .where(TeamMember.team_id == outside_team, TeamMember.user_id == Membership.user_id)
            .exists()
        )
    statement = paginate(
        members.add_columns(Membership.id),
        page,
        created_at=Membership.created_at,
        row_id=Membership.id,
    )
    rows = list(await session.execute(statement))
    found = make_page(rows, page, key=lambda row: (row.created_at, row.id))
    return Page([MemberView.of_row(row[:5]) for row in found.items], found.next_cursor)


async def _get_member_or_raise(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> MemberView:
    row = (await session.execute(_members_of(tenant_id).where(User.id == user_id))).one_or_none()
    if row is None:
        raise member_not_found()
    return MemberView.of_row(row)


class Members:
    """Reading and changing a tenant's members, each call in a transaction (or read) of its
    own; changes lock the tenant first, as the owner rules need."""

    def __init__(self, *, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def listing(
        self, *, tenant_id: uuid.UUID, page: PageRequest, outside_team: uuid.UUID | None = None
    ) -> Page[MemberView]:
        """As `list_members`, in a read of its own."""
        async with self._db.read() as session:
            return await list_members(
                session, tenant_id=tenant_id, page=page, outside_team=outside_team
            )

    async def first_of_each(self, keys: Sequence[MembersKey]) -> list[list[MemberView]]:
        """The first `limit` members of each (tenant, limit) key, in key order, all in one
        read (a GraphQL batch of nested `members` fields)."""
        async with self._db.read() as session:
            return [
                (await list_members(session, tenant_id=tenant_id, page=PageRequest(limit))).items
                for tenant_id, limit in keys
            ]

    async def get(self, *, tenant_id: uuid.UUID, user_id: uuid.UUID) -> MemberView:
        """NotFound `member_not_found` unless `user_id` is a member of the tenant."""
        async with self._db.read() as session:
            return await _get_member_or_raise(session, tenant_id=tenant_id, user_id=user_id)

    async def change_role(self, *, actor: TenantActor, user_id: uuid.UUID, role: str) -> MemberView:
        """Admins manage admins, editors and viewers; granting or taking away `owner` needs an
        owner, and the last owner (or a personal tenant's owner) keeps the role. The
        invitations the member may no longer grant are revoked in the same transaction."""
        actor.require(MANAGE_MEMBERS)
        async with self._db.transaction() as session:
            tenant = await lock_tenant(session, actor.tenant_id)
            membership = await _locked_membership(session, tenant_id=tenant.id, user_id=user_id)
            if membership.role != role:
                await self._change(session, actor, tenant, membership, role=role)
            return await _get_member_or_raise(session, tenant_id=tenant.id, user_id=user_id)

    async def _change(
        self,
        session: AsyncSession,
        actor: TenantActor,
        tenant: Tenant,
        membership: Membership,
        *,
        role: str,
    ) -> None:
        previous, user_id, now = membership.role, membership.user_id, self._clock.now()
        if "owner" in (previous, role):
            actor.require("owner")
        if previous == "owner":
            await _keep_an_owner(session, tenant=tenant, user_id=user_id)
        membership.role = role
        membership.updated_at = now
        data = {"user_id": str(user_id), "role": role, "previous_role": previous}
        event = Event("membership.updated", tenant.id, actor.user_id, data)
        await _grant_changed(session, actor, event, inviter_id=user_id, role=role, now=now)

    async def remove(self, *, actor: TenantActor, user_id: uuid.UUID) -> None:
        """Evict a member (admins; owners for an owner), or leave (anyone, for themselves). The
        user's default tenant falls back to their personal tenant, and the invitations they
        sent are revoked, in the same transaction."""
        leaving = user_id == actor.user_id
        if not leaving:
            actor.require(MANAGE_MEMBERS)
        async with self._db.transaction() as session:
            tenant = await lock_tenant(session, actor.tenant_id)
            membership = await _locked_membership(session, tenant_id=tenant.id, user_id=user_id)
            if membership.role == "owner":
                if not leaving:
                    actor.require("owner")
                await _keep_an_owner(session, tenant=tenant, user_id=user_id)
            await self._evict(session, actor, tenant, membership)

    async def _evict(
        self, session: AsyncSession, actor: TenantActor, tenant: Tenant, membership: Membership
    ) -> None:
        user_id, now = membership.user_id, self._clock.now()
        await session.execute(delete(Membership).where(Membership.id == membership.id))
        await fall_back_to_personal_tenant(session, tenant_id=tenant.id, user_id=user_id)
        data = {"user_id": str(user_id), "role": membership.role}
        event = Event("membership.deleted", tenant.id, actor.user_id, data)
        await _grant_changed(session, actor, event, inviter_id=user_id, role=None, now=now)


async def _grant_changed(
    session: AsyncSession,
    actor: TenantActor,
    event: Event,
    *,
    inviter_id: uuid.UUID,
    role: str | None,
    now: datetime,
) -> None:
    """What follows a member's role changing (`role`) or ending (None): the event, the
    invitations they sent and may no longer grant revoked, and every cached access re-read."""
    await record_events(session, [event], now=now)
    await revoke_beyond_grant(
        session,
        tenant_id=actor.tenant_id,
        inviter_id=inviter_id,
        role=role,
        actor_id=actor.user_id,
        now=now,
    )
    await bump_access_epoch(session)


async def _locked_membership(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> Membership:
    membership = await session.scalar(
        select(Membership)
        .where(Membership.tenant_id == tenant_id, Membership.user_id == user_id)
        .with_for_update()
    )
    if membership is None:
        raise member_not_found()
    return membership


async def _keep_an_owner(session: AsyncSession, *, tenant: Tenant, user_id: uuid.UUID) -> None:
    """Refuse to take `owner` from `user_id` if that leaves the tenant without one. Runs under
    the tenant lock, so the count cannot change before the transaction ends."""
    if tenant.personal_owner_id == user_id:
        raise Conflict("The owner of a personal tenant stays its owner.", code="personal_tenant")
    owners = await session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.tenant_id == tenant.id, Membership.role == "owner")
    )
    if (owners or 0) <= 1:
        raise Conflict("A tenant needs at least one owner.", code="last_owner")
