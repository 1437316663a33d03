"""The write side of the gateway: each mutation runs the unit of work of the matching REST
route, through the same domain services and the same input models. Afterwards the request's
memoized checks are dropped, so later fields see the change (a member who left is out)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import strawberry

from tenantry.domain.accounts.invitations import DEFAULT_LIFETIME
from tenantry.transports.graphql.context import Info
from tenantry.transports.graphql.inputs import validated
from tenantry.transports.graphql.queries import TENANT_SCOPED, tenant_of_request
from tenantry.transports.graphql.resources import Invitation, Project
from tenantry.transports.graphql.types import Membership, Role, User
from tenantry.transports.rest.schemas.accounts import MeUpdate
from tenantry.transports.rest.schemas.invitations import InvitationCreate
from tenantry.transports.rest.schemas.projects import ProjectCreate

DEFAULT_EXPIRES_IN = int(DEFAULT_LIFETIME.total_seconds())


async def resolve_update_me(
    info: Info, name: str | None = None, default_tenant_id: uuid.UUID | None = None
) -> User | None:
    principal = await info.context.principal()
    body = validated(MeUpdate, name=name, default_tenant_id=default_tenant_id)
    profile = await info.context.container.users.update_profile(
        user_id=principal.user_id, name=body.name, default_tenant_id=body.default_tenant_id
    )
    info.context.forget()
    return User.of_profile(profile)


async def resolve_create_project(info: Info, name: str) -> Project | None:
    actor = await info.context.actor()
    body = validated(ProjectCreate, name=name)
    project = await info.context.container.projects.create(actor=actor, name=body.name)
    info.context.forget()
    return Project.of(project, tenant_id=actor.tenant_id)


async def resolve_create_invitation(
    info: Info, email: str, role: Role, expires_in: int = DEFAULT_EXPIRES_IN
) -> Invitation | None:
    actor = await info.context.actor()
    body = validated(InvitationCreate, email=email, role=role.value, expires_in=expires_in)
    issued = await info.context.container.invitations.create(
        actor=actor, email=body.email, role=body.role, lifetime=timedelta(seconds=body.expires_in)
    )
    info.context.forget()
    return Invitation.of(issued)


async def resolve_update_member_role(
    info: Info, user_id: uuid.UUID, role: Role
) -> Membership | None:
    tenant = await tenant_of_request(info)
    actor = await info.context.actor()
    view = await info.context.container.members.change_role(
        actor=actor, user_id=user_id, role=role.value
    )
    info.context.forget()
    return Membership.of_member(view, tenant=tenant)


async def resolve_remove_member(info: Info, user_id: uuid.UUID) -> bool | None:
    actor = await info.context.actor()
    await info.context.container.members.remove(actor=actor, user_id=user_id)
    info.context.forget()
    return True


@strawberry.type
class Mutation:
    update_me: User | None = strawberry.mutation(
        resolver=resolve_update_me,
        description="Rename yourself, or pick your default tenant (`PATCH /v1/me`).",
    )
    create_project: Project | None = strawberry.mutation(
        resolver=resolve_create_project,
        description="A project with the default environments (`POST /v1/projects`); editors."
        + TENANT_SCOPED,
    )
    create_invitation: Invitation | None = strawberry.mutation(
        resolver=resolve_create_invitation,
        description="Invite someone by email (`POST /v1/invitations`); admins, owners for "
        "`OWNER`. `expiresIn` is in seconds." + TENANT_SCOPED,
    )
    update_member_role: Membership | None = strawberry.mutation(
        resolver=resolve_update_member_role,
        description="Change a member's role (`PATCH /v1/members/{user_id}`); admins, owners "
        "for `OWNER`." + TENANT_SCOPED,
    )
    remove_member: bool | None = strawberry.mutation(
        resolver=resolve_remove_member,
        description="Evict a member, or leave (`DELETE /v1/members/{user_id}`); true when "
        "done." + TENANT_SCOPED,
    )
