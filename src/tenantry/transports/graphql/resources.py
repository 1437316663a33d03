"""The GraphQL types of what tenants have (projects, their environments, invitations) and of
the plan catalog, built by `from_model` from the domain's read models that REST returns."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from tenantry.domain.accounts.invitations import InvitationIssued, InvitationView
from tenantry.domain.accounts.projects import ProjectView
from tenantry.domain.pagination import DEFAULT_LIMIT
from tenantry.domain.plans import catalog
from tenantry.transports.graphql.context import Info
from tenantry.transports.graphql.types import Role, from_model


@strawberry.type(description="A tier of the plan catalog (`GET /v1/plans`).")
class Plan:
    id: str
    name: str
    self_service: bool
    isolation: str
    monthly_price_cents: int
    features: JSON
    limits: JSON = strawberry.field(description="absent: unlimited")

    @classmethod
    def of(cls, plan: catalog.Plan) -> Plan:
        return from_model(
            cls, plan, features=JSON(dict(plan.features)), limits=JSON(dict(plan.limits))
        )


@strawberry.type(description="An isolated copy of a project, with its public client key.")
class Environment:
    id: uuid.UUID
    name: str
    slug: str
    client_key: str
    snippet: str = strawberry.field(description="The script tag to paste into a web page.")
    created_at: datetime


async def _environments(root: Project, info: Info, limit: int = DEFAULT_LIMIT) -> list[Environment]:
    views = await info.context.environments_of(root.tenant_id, root.id, limit)
    return [from_model(Environment, view) for view in views]


@strawberry.type(description="An app or product of the tenant.")
class Project:
    id: uuid.UUID
    name: str
    team_ids: list[uuid.UUID]
    created_at: datetime
    tenant_id: strawberry.Private[uuid.UUID]
    environments: list[Environment] = strawberry.field(
        resolver=_environments, description="The first `limit` environments, oldest first."
    )

    @classmethod
    def of(cls, view: ProjectView, *, tenant_id: uuid.UUID) -> Project:
        return from_model(cls, view, tenant_id=tenant_id)


@strawberry.type(description="An invitation to join the tenant (`POST /v1/invitations`).")
class Invitation:
    id: uuid.UUID
    email: str
    role: Role
    status: str
    expires_at: datetime
    created_at: datetime
    accept_url: str | None = strawberry.field(
        description="Only in the answer that issues the token (it is stored hashed)."
    )

    @classmethod
    def of(cls, view: InvitationView) -> Invitation:
        accept_url = view.accept_url if isinstance(view, InvitationIssued) else None
        return from_model(cls, view, role=Role(view.role), accept_url=accept_url)
