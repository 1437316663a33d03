"""Creating organization tenants, and the per-tenant lock that serializes changes to a tenant's
members, owners and counted resources (SPEC §6)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.accounts.onboarding import DEFAULT_PLAN
from tenantry.domain.events.outbox import Event, record_events
from tenantry.errors import NotFound
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.models import Membership, Tenant


async def create_organization(
    session: AsyncSession, *, owner_id: uuid.UUID, name: str, now: datetime
) -> Tenant:
    """A new `organization` tenant on the default plan, with the caller as its owner."""
    tenant = Tenant(
        id=uuid.uuid4(),
        name=name,
        kind="organization",
        plan=DEFAULT_PLAN,
        status="active",
        isolation="pool",
        profile={},
        extra_metadata={},
        feature_overrides={},
        personal_owner_id=None,
        created_at=now,
        updated_at=now,
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
