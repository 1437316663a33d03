"""Tenants (SPEC §6): creating organizations; listing the caller's tenants; reading, updating
and deleting the tenant of the request; and the per-tenant lock that serializes changes to its
members, owners and counted resources."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.accounts.roles import TenantActor
from tenantry.domain.accounts.users import (
    MembershipView,
    fall_back_to_personal_tenant,
    page_memberships,
    update_profile,
)
from tenantry.domain.events.outbox import Event, record_events
from tenantry.domain.idempotency import KeyClaim, StoredResponse, answer_once
from tenantry.domain.pagination import Page, PageRequest
from tenantry.domain.plans.catalog import DEFAULT_PLAN, PlanCatalog
from tenantry.domain.readmodel import ReadModel
from tenantry.errors import Conflict, NotFound
from tenantry.storage.database import Database
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.models import Membership, Tenant
from tenantry.storage.silos import SiloStores
from tenantry.storage.tenant_rows import delete_rows_in


class TenantBasics(ReadModel):
    """What every view of a tenant shows first."""

    id: uuid.UUID
    name: str
    kind: str
    plan: str
    status: str
    isolation: str


class TenantView(TenantBasics):
    profile: dict[str, Any]
    features: dict[str, bool]
    limits: dict[str, int]
    created_at: datetime
    # What deciding the tenant's features needs (`PlannedTenant`); not in the REST body.
    feature_overrides: dict[str, Any] = Field(exclude=True)


class Tenants:
    """The caller's tenants and the tenant of a request."""

    def __init__(self, *, db: Database, clock: Clock, silos: SiloStores) -> None:
        self._db = db
        self._clock = clock
        self._silos = silos

    async def create_organization(
        self,
        *,
        owner_id: uuid.UUID,
        name: str,
        make_default: bool = False,
        key: KeyClaim[MembershipView] | None = None,
    ) -> MembershipView | StoredResponse:
        """A new organization owned by `owner_id`, as their membership of it; `make_default`
        also makes it the tenant their new tokens carry. With an Idempotency-Key, a repeat
        gets the first answer back as a `StoredResponse`."""
        async with self._db.transaction() as session:
            now = self._clock.now()

            async def create() -> MembershipView:
                tenant = await _create_organization(session, owner_id=owner_id, name=name, now=now)
                if make_default:
                    await update_profile(
                        session, user_id=owner_id, now=now, default_tenant_id=tenant.id
                    )
                return _owners_membership(tenant, now=now)

            return await answer_once(session, key, create, now=now)

    async def of_user(self, *, user_id: uuid.UUID, page: PageRequest) -> Page[MembershipView]:
        """The user's memberships, a page at a time, oldest first."""
        async with self._db.read() as session:
            return await page_memberships(session, user_id=user_id, page=page)

    async def update(
        self,
        *,
        actor: TenantActor,
        name: str | None = None,
        profile: dict[str, Any] | None = None,
    ) -> None:
        """Rename the actor's tenant and/or merge `profile` into its profile (admins and up;
        see `update_tenant`)."""
        async with self._db.transaction() as session:
            await update_tenant(
                session, actor=actor, now=self._clock.now(), name=name, profile=profile
            )

    async def delete(self, *, actor: TenantActor) -> None:
        """Delete the actor's organization tenant (owners only) with everything in it, its
        silo too once the deletion has committed. A silo left behind by a crash in between is
        dropped by the recovery job (`TenantStores.drop_orphaned_silos`)."""
        async with self._db.transaction() as session:
            deleted = await _delete_tenant(session, actor=actor, now=self._clock.now())
        if deleted.isolation == "silo":
            await self._silos.drop(deleted.id)


def _owners_membership(tenant: Tenant, *, now: datetime) -> MembershipView:
    return MembershipView(
        tenant_id=tenant.id,
        tenant_name=tenant.name,
        tenant_kind=tenant.kind,
        tenant_status=tenant.status,
        role="owner",
        plan=tenant.plan,
        created_at=now,
    )


def new_organization(
    *,
    tenant_id: uuid.UUID,
    name: str,
    plan: str,
    status: str,
    now: datetime,
    isolation: str = "pool",
) -> Tenant:
    """The row of an organization tenant, with an empty profile, metadata and overrides."""
    return Tenant(
        id=tenant_id,
        name=name,
        kind="organization",
        plan=plan,
        status=status,
        isolation=isolation,
        profile={},
        extra_metadata={},
        feature_overrides={},
        personal_owner_id=None,
        created_at=now,
        updated_at=now,
    )


async def _create_organization(
    session: AsyncSession, *, owner_id: uuid.UUID, name: str, now: datetime
) -> Tenant:
    """A new `organization` tenant on the default plan, with the caller as its owner."""
    tenant = new_organization(
        tenant_id=uuid.uuid4(), name=name, plan=DEFAULT_PLAN, status="active", now=now
    )
    session.add(tenant)
    await session.flush()
    session.add(
        Membership(
            id=uuid.uuid4(),
            tenant_id=tenant.id,
            user_id=owner_id,
            role="owner",
            created_at=now,
            updated_at=now,
        )
    )
    await record_events(
        session,
        [
            Event(
                "tenant.created",
                tenant.id,
                owner_id,
                {"tenant_id": str(tenant.id), "kind": "organization", "plan": DEFAULT_PLAN},
            ),
            Event(
                "membership.created",
                tenant.id,
                owner_id,
                {"user_id": str(owner_id), "role": "owner"},
            ),
        ],
        now=now,
    )
    await bump_access_epoch(session)
    return tenant


async def lock_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    """The tenant row, locked until the transaction ends (`FOR UPDATE` on PostgreSQL; a SQLite
    write transaction already holds the database's one write lock). Rules that count rows
    (last owner, plan limits) decide under this lock, never on an unlocked read."""
    tenant = await session.scalar(select(Tenant).where(Tenant.id == tenant_id).with_for_update())
    if tenant is None:
        raise NotFound("No such tenant.", code="tenant_not_found")
    return tenant


async def read_tenant(
    session: AsyncSession, tenant_id: uuid.UUID, *, plans: PlanCatalog
) -> TenantView:
    """getOrg: the tenant with its plan's features (after overrides) and limits. Callers have
    passed the tenant check, so the tenant exists."""
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("No such tenant.", code="tenant_not_found")
    plan = plans.of_tenant(tenant.plan)
    return TenantView(
        id=tenant.id,
        name=tenant.name,
        kind=tenant.kind,
        plan=tenant.plan,
        status=tenant.status,
        isolation=tenant.isolation,
        profile=dict(tenant.profile),
        features=plans.features_of(tenant),
        limits=dict(plan.limits),
        created_at=tenant.created_at,
        feature_overrides=dict(tenant.feature_overrides),
    )


async def update_tenant(
    session: AsyncSession,
    *,
    actor: TenantActor,
    now: datetime,
    name: str | None = None,
    profile: dict[str, Any] | None = None,
) -> None:
    """Rename and/or merge `profile` into the tenant's profile (a None value removes a
    field). Locked, so two admins editing different fields don't lose either edit."""
    actor.require("admin")
    tenant = await lock_tenant(session, actor.tenant_id)
    changed: dict[str, Any] = {}
    if name is not None:
        tenant.name = changed["name"] = name
    if profile is not None:
        merged = {**tenant.profile, **profile}
        tenant.profile = {key: value for key, value in merged.items() if value is not None}
        changed["profile"] = sorted(profile)
    tenant.updated_at = now
    await record_events(
        session, [Event("tenant.updated", tenant.id, actor.user_id, changed)], now=now
    )
    await bump_access_epoch(session)  # cached tenant views and membership lists show the name


async def _delete_tenant(session: AsyncSession, *, actor: TenantActor, now: datetime) -> Tenant:
    """Delete an organization tenant and everything in it (its pool rows too; its silo is
    `Tenants.delete`'s to drop once this commits). Members whose default tenant it was fall
    back to their personal tenant."""
    actor.require("owner")
    tenant = await lock_tenant(session, actor.tenant_id)
    if tenant.kind == "personal":
        raise Conflict("A personal tenant cannot be deleted.", code="personal_tenant")
    await fall_back_to_personal_tenant(session, tenant_id=tenant.id)
    await delete_rows_in(session, tenant.id)
    await session.execute(delete(Tenant).where(Tenant.id == tenant.id))
    await record_events(
        session,
        [Event("tenant.deleted", tenant.id, actor.user_id, {"tenant_id": str(tenant.id)})],
        now=now,
    )
    await bump_access_epoch(session)
    return tenant
