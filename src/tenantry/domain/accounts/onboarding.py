"""The onboarding transaction (SPEC §5): a confirmed user's personal tenant, owner membership,
first project with its environments, default tenant and events, written together or not at all.
Statements built once, run on the Core connection, keep it to a handful of cheap round
trips."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.accounts.environments import DEFAULT_ENVIRONMENTS, new_client_key
from tenantry.domain.events.outbox import Event, record_events
from tenantry.domain.plans.catalog import DEFAULT_PLAN
from tenantry.faults import Faults
from tenantry.storage.tables import ENVIRONMENTS, MEMBERSHIPS, PROJECTS, TENANTS, USERS

FIRST_PROJECT_NAME = "My first project"


@dataclass(frozen=True)
class NewUser:
    id: uuid.UUID
    email: str
    name: str


def workspace_name(user: NewUser) -> str:
    owner = user.name.strip() or user.email.partition("@")[0]
    return f"{owner}'s workspace"


INSERT_TENANT = TENANTS.insert()
INSERT_MEMBERSHIP = MEMBERSHIPS.insert()
INSERT_PROJECT = PROJECTS.insert()
INSERT_ENVIRONMENT = ENVIRONMENTS.insert()
SET_DEFAULT_TENANT = (
    USERS.update()
    .where(USERS.c.id == bindparam("b_user"))
    .values(default_tenant_id=bindparam("b_tenant"), updated_at=bindparam("b_now"))
)


async def create_personal_workspace(
    session: AsyncSession, *, user: NewUser, now: datetime, faults: Faults, confirmed: bool = True
) -> uuid.UUID:
    """Create the user's workspace; the caller has just confirmed the user in this transaction
    (`confirmed`), or is provisioning an account for someone who will activate it later.
    The unique personal tenant per user makes a raced second run fail instead of duplicating."""
    connection = await session.connection()
    tenant_id, project_id = uuid.uuid4(), uuid.uuid4()
    stamps = {"created_at": now, "updated_at": now}
    await connection.execute(
        INSERT_TENANT,
        {
            "id": tenant_id,
            "name": workspace_name(user),
            "kind": "personal",
            "plan": DEFAULT_PLAN,
            "status": "active",
            "isolation": "pool",
            "profile": {},
            "metadata": {},
            "feature_overrides": {},
            "personal_owner_id": user.id,
            **stamps,
        },
    )
    faults.checkpoint("onboarding.tenant")
    await connection.execute(
        INSERT_MEMBERSHIP,
        {"id": uuid.uuid4(), "tenant_id": tenant_id, "user_id": user.id, "role": "owner", **stamps},
    )
    faults.checkpoint("onboarding.membership")
    await connection.execute(
        INSERT_PROJECT,
        {"id": project_id, "tenant_id": tenant_id, "name": FIRST_PROJECT_NAME, **stamps},
    )
    environments = [
        {
            "id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "project_id": project_id,
            "name": name,
            "slug": slug,
            "client_key": new_client_key(),
            **stamps,
        }
        for name, slug in DEFAULT_ENVIRONMENTS
    ]
    await connection.execute(INSERT_ENVIRONMENT, environments)
    faults.checkpoint("onboarding.project")
    await connection.execute(
        SET_DEFAULT_TENANT, {"b_user": user.id, "b_tenant": tenant_id, "b_now": now}
    )
    faults.checkpoint("onboarding.default_tenant")
    events = _onboarding_events(user, tenant_id, project_id, environments)
    await record_events(session, events if confirmed else events[1:], now=now)
    faults.checkpoint("onboarding.events")
    return tenant_id


def confirmed_event(user: NewUser, tenant_id: uuid.UUID | None = None) -> Event:
    data = {"user_id": str(user.id), "email": user.email}
    return Event("user.confirmed", tenant_id, user.id, data)


def _onboarding_events(
    user: NewUser,
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    environments: list[dict[str, object]],
) -> list[Event]:
    def event(event_type: str, **data: object) -> Event:
        return Event(event_type, tenant_id, user.id, {k: str(v) for k, v in data.items()})

    return [
        confirmed_event(user, tenant_id),
        event("tenant.created", tenant_id=tenant_id, kind="personal", plan=DEFAULT_PLAN),
        event("membership.created", user_id=user.id, role="owner"),
        event("project.created", project_id=project_id, name=FIRST_PROJECT_NAME),
        *(
            event(
                "environment.created",
                project_id=project_id,
                environment_id=env["id"],
                slug=env["slug"],
            )
            for env in environments
        ),
    ]
