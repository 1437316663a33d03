"""The read side of the gateway: each field calls what the matching REST route calls."""

from __future__ import annotations

import uuid

import strawberry

from tenantry.domain.pagination import DEFAULT_LIMIT
from tenantry.transports.graphql.context import Info
from tenantry.transports.graphql.inputs import page_request
from tenantry.transports.graphql.resources import Plan, Project
from tenantry.transports.graphql.types import Membership, Page, Tenant, User

TENANT_SCOPED = " Needs `X-Tenant-ID`."


async def tenant_of_request(info: Info) -> Tenant:
    """The tenant `X-Tenant-ID` names, once the caller's membership of it is checked."""
    actor = await info.context.actor()
    return Tenant.of(await info.context.container.tenant_views.get(actor.tenant_id))


async def resolve_me(info: Info) -> User | None:
    principal = await info.context.principal()
    return User.of_profile(await info.context.container.profiles.get(principal.user_id))


async def resolve_members(
    info: Info, limit: int = DEFAULT_LIMIT, cursor: str | None = None
) -> Page[Membership] | None:
    tenant = await tenant_of_request(info)
    found = await info.context.container.members.listing(
        tenant_id=tenant.id, page=page_request(limit, cursor)
    )
    items = [Membership.of_member(view, tenant=tenant) for view in found.items]
    return Page(items=items, next_cursor=found.next_cursor)


async def resolve_member(info: Info, user_id: uuid.UUID) -> Membership | None:
    tenant = await tenant_of_request(info)
    view = await info.context.container.members.get(tenant_id=tenant.id, user_id=user_id)
    return Membership.of_member(view, tenant=tenant)


async def resolve_projects(
    info: Info, limit: int = DEFAULT_LIMIT, cursor: str | None = None
) -> Page[Project] | None:
    actor = await info.context.actor()
    found = await info.context.container.projects.find(
        actor=actor, page=page_request(limit, cursor)
    )
    items = [Project.of(view, tenant_id=actor.tenant_id) for view in found.items]
    return Page(items=items, next_cursor=found.next_cursor)


def resolve_plans(info: Info) -> list[Plan]:
    return [Plan.of(plan) for plan in info.context.container.plans.all()]


@strawberry.type
class Query:
    me: User | None = strawberry.field(
        resolver=resolve_me, description="The signed-in user (`GET /v1/me`)."
    )
    tenant: Tenant | None = strawberry.field(
        resolver=tenant_of_request,
        description="The tenant of the request (`GET /v1/tenant`)." + TENANT_SCOPED,
    )
    members: Page[Membership] | None = strawberry.field(
        resolver=resolve_members,
        description="The tenant's members in joining order (`GET /v1/members`)." + TENANT_SCOPED,
    )
    member: Membership | None = strawberry.field(
        resolver=resolve_member,
        description="One member of the tenant (`GET /v1/members/{user_id}`)." + TENANT_SCOPED,
    )
    projects: Page[Project] | None = strawberry.field(
        resolver=resolve_projects,
        description="The tenant's projects (`GET /v1/projects`)." + TENANT_SCOPED,
    )
    plans: list[Plan] = strawberry.field(
        resolver=resolve_plans, description="The plan catalog (`GET /v1/plans`); no token needed."
    )
