"""The owner of a provisioned tenant (a platform admin's tenant, a HubSpot customer's): an
existing account, or a new one with its personal workspace that its owner activates with a
mailed code (and a password) through `POST /v1/auth/confirm`."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.accounts.onboarding import NewUser, create_personal_workspace
from tenantry.domain.events.outbox import Event, record_events
from tenantry.domain.identity.signup import CONFIRM
from tenantry.domain.identity.toolkit import IdentityToolkit
from tenantry.storage.models import Membership, Tenant, User

# Someone else opened the account; its owner may not read the mail for days.
ACTIVATION_CODE_TTL = timedelta(days=7)


async def provision_owner_account(
    session: AsyncSession, identity: IdentityToolkit, *, email: str, name: str, tenant_name: str
) -> User:
    """The account for `email`. A new or never-confirmed one gets its personal workspace now
    and a mailed activation code; a confirmed one is used as it is."""
    user = await identity.ensure_user(session, email=email, name=name)
    if user.email_verified:
        return user
    has_workspace = await session.scalar(
        select(Tenant.id).where(Tenant.personal_owner_id == user.id)
    )
    if has_workspace is None:
        user.default_tenant_id = await create_personal_workspace(
            session,
            user=NewUser(user.id, user.email, user.name or name),
            now=identity.clock.now(),
            faults=identity.faults,
            confirmed=False,
        )
    await identity.send_code(
        session,
        user=user,
        purpose=CONFIRM,
        template="account_created",
        ttl=ACTIVATION_CODE_TTL,
        context={"tenant_name": tenant_name},
    )
    return user


async def add_owner(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
    make_default: bool,
    actor_id: uuid.UUID | None = None,
) -> None:
    """Make `user_id` the owner of a tenant being provisioned (optionally their default)."""
    session.add(
        Membership(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            user_id=user_id,
            role="owner",
            created_at=now,
            updated_at=now,
        )
    )
    if make_default:
        await session.execute(
            update(User).where(User.id == user_id).values(default_tenant_id=tenant_id)
        )
    event = Event(
        "membership.created", tenant_id, actor_id, {"user_id": str(user_id), "role": "owner"}
    )
    await record_events(session, [event], now=now)
