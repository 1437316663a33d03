"""The onboarding wizard's progress per tenant (SPEC §11): four steps, each open, done or
skipped. Only admins and owners run the wizard; a step once done stays done (skipping it later
changes nothing). The wizard's steps run in `wizard.OnboardingWizard`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.accounts.capabilities import RUN_ONBOARDING
from tenantry.domain.accounts.roles import TenantActor, outranks_or_equals
from tenantry.domain.accounts.tenants import lock_tenant
from tenantry.errors import MalformedRequest
from tenantry.storage.models import Membership, TenantOnboarding, User

STEPS: tuple[str, ...] = ("snippet", "company", "invite", "project")
State = Literal["open", "done", "skipped"]
CLOSED = ("done", "skipped")


def states_of(steps: dict[str, object]) -> dict[str, State]:
    """Every step's state, in wizard order; unknown keys and values are ignored."""
    found: dict[str, State] = {}
    for step in STEPS:
        value = steps.get(step)
        found[step] = "done" if value == "done" else "skipped" if value == "skipped" else "open"
    return found


async def progress(session: AsyncSession, *, tenant_id: uuid.UUID) -> dict[str, State]:
    row = await session.get(TenantOnboarding, tenant_id)
    return states_of(row.steps if row is not None else {})


def first_open(states: dict[str, State]) -> str | None:
    return next((step for step in STEPS if states[step] == "open"), None)


async def mark_step(
    session: AsyncSession, *, actor: TenantActor, step: str, state: State, now: datetime
) -> dict[str, State]:
    """Record a step as `done` or `skipped` (admins and owners). The tenant row is locked, so
    two admins finishing different steps at once keep both."""
    actor.require(RUN_ONBOARDING)
    if step not in STEPS or state not in CLOSED:
        raise MalformedRequest("There is no such onboarding step.", code="unknown_step")
    await lock_tenant(session, actor.tenant_id)
    row = await session.get(TenantOnboarding, actor.tenant_id)
    if row is None:
        row = TenantOnboarding(tenant_id=actor.tenant_id, steps={}, created_at=now, updated_at=now)
        session.add(row)
    if row.steps.get(step) != "done":
        row.steps = {**row.steps, step: state}
    row.updated_at = now
    return states_of(row.steps)


async def start_for_new_account(
    session: AsyncSession, *, email_key: str, now: datetime
) -> uuid.UUID | None:
    """After a code confirmation: the default tenant whose wizard this user should land on,
    when they are its admin or owner and its wizard was never started; starting it (an empty
    progress row) makes this answer None from then on, so it happens once per tenant."""
    user = await session.scalar(select(User).where(User.email_key == email_key))
    if user is None or user.default_tenant_id is None:
        return None
    role = await session.scalar(
        select(Membership.role).where(
            Membership.tenant_id == user.default_tenant_id, Membership.user_id == user.id
        )
    )
    if role is None or not outranks_or_equals(role, "admin"):
        return None
    await lock_tenant(session, user.default_tenant_id)
    if await session.get(TenantOnboarding, user.default_tenant_id) is not None:
        return None
    session.add(
        TenantOnboarding(tenant_id=user.default_tenant_id, steps={}, created_at=now, updated_at=now)
    )
    return user.default_tenant_id
