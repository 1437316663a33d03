"""A tenant's teams in the web UI (SPEC §6, §11): list teams with their member counts, create,
rename and delete them; per team its members (admins add a tenant member or remove one) and the
projects it is linked to. Every post runs the domain services the REST teams router calls, so
the role rules (viewers read, admins change teams and see their members) are the API's; a
refusal shows the domain's message on the page."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from fastapi import Request, Response

from tenantry.bootstrap import Container
from tenantry.domain.accounts.roles import TenantActor, outranks_or_equals
from tenantry.errors import DomainError
from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.teams import TeamName
from tenantry.transports.web.app_pages import app_page, tenant_actor
from tenantry.transports.web.entry import failure
from tenantry.transports.web.forms import PageAgain, redirect_after
from tenantry.transports.web.names import name_rule
from tenantry.transports.web.paging import page_links, requested_page
from tenantry.transports.web.render import WebRoute
from tenantry.transports.web.visitors import Post, PostDep, Visitor, VisitorDep, field, form_id

router = PrefixedRouter(
    prefix="/app/t/{tenant_id}/teams", route_class=WebRoute, include_in_schema=False
)
TEAM_NAME = name_rule("a team name", TeamName)


async def teams_page(
    request: Request,
    container: Container,
    visitor: Visitor,
    actor: TenantActor,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    """The tenant's teams with their member counts, as of now."""
    tenant = await container.tenant_views.get(actor.tenant_id)
    found = await container.teams.find(actor=actor, page=requested_page(request, "after"))
    return await app_page(
        request,
        container,
        visitor,
        "teams.html",
        status=status,
        current_tenant_id=actor.tenant_id,
        title=f"Teams · {tenant.name}",
        tenant=tenant,
        teams=found.items,
        team_pages=page_links(request, f"/app/t/{actor.tenant_id}/teams", "after", found),
        admin=outranks_or_equals(actor.role, "admin"),
        **context,
    )


async def team_page(
    request: Request,
    container: Container,
    visitor: Visitor,
    actor: TenantActor,
    team_id: uuid.UUID,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    """One team with its linked projects, and for admins its members and who can be added; its
    absence is the teams page with a 404."""
    tenant = await container.tenant_views.get(actor.tenant_id)
    try:
        shown = await container.teams.overview(
            actor=actor,
            team_id=team_id,
            projects=requested_page(request, "projects"),
            members=requested_page(request, "members"),
            candidates=requested_page(request, "candidates"),
        )
    except DomainError as error:
        code, message = failure(error)
        return await teams_page(request, container, visitor, actor, status=code, error=message)
    path = f"/app/t/{actor.tenant_id}/teams/{team_id}"
    members, candidates = shown.members, shown.candidates
    return await app_page(
        request,
        container,
        visitor,
        "team.html",
        status=status,
        current_tenant_id=actor.tenant_id,
        title=f"{shown.team.name} · {tenant.name}",
        tenant=tenant,
        team=shown.team,
        admin=outranks_or_equals(actor.role, "admin"),
        linked_projects=shown.linked_projects.items,
        project_pages=page_links(request, path, "projects", shown.linked_projects),
        members=members.items if members else [],
        member_pages=members and page_links(request, path, "members", members),
        candidates=candidates.items if candidates else [],
        candidate_pages=candidates and page_links(request, path, "candidates", candidates),
        **context,
    )


def _shown_again(
    request: Request, container: Container, post: Post, actor: TenantActor, team_id: uuid.UUID
) -> PageAgain:
    return partial(team_page, request, container, post.visitor, actor, team_id)


@router.get("")
async def list_page(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, visitor: VisitorDep
) -> Response:
    actor = await tenant_actor(request, container, visitor, tenant_id)
    return await teams_page(request, container, visitor, actor)


@router.post("")
async def create(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, post: PostDep
) -> Response:
    """A new team (as `POST /v1/teams`), within the plan's team limit."""
    actor = await tenant_actor(request, container, post.visitor, tenant_id)
    name = TEAM_NAME.read(post.form)
    if name is None:
        return await teams_page(
            request, container, post.visitor, actor, status=422, error=TEAM_NAME.message
        )
    return await redirect_after(
        container.teams.create(actor=actor, name=name),
        done=lambda team: f"/app/t/{tenant_id}/teams/{team.id}?notice=team_created",
        refused=partial(teams_page, request, container, post.visitor, actor),
    )


@router.get("/{team_id}")
async def show(
    tenant_id: uuid.UUID,
    team_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    visitor: VisitorDep,
) -> Response:
    actor = await tenant_actor(request, container, visitor, tenant_id)
    return await team_page(request, container, visitor, actor, team_id)


@router.post("/{team_id}/rename")
async def rename(
    tenant_id: uuid.UUID,
    team_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    post: PostDep,
) -> Response:
    """Rename the team (as `PATCH /v1/teams/{id}`); names are unique in the tenant."""
    actor = await tenant_actor(request, container, post.visitor, tenant_id)
    name = TEAM_NAME.read(post.form)
    if name is None:
        return await team_page(
            request, container, post.visitor, actor, team_id, status=422, error=TEAM_NAME.message
        )
    return await redirect_after(
        container.teams.rename(actor=actor, team_id=team_id, name=name),
        done=f"/app/t/{tenant_id}/teams/{team_id}?notice=team_renamed",
        refused=_shown_again(request, container, post, actor, team_id),
    )


@router.post("/{team_id}/delete")
async def delete(
    tenant_id: uuid.UUID,
    team_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    post: PostDep,
) -> Response:
    """Delete the team with its memberships and project links (as `DELETE /v1/teams/{id}`),
    only with the confirmation box ticked."""
    actor = await tenant_actor(request, container, post.visitor, tenant_id)
    if field(post.form, "confirm", limit=8) != "yes":
        message = "Tick the box to confirm deleting the team."
        return await team_page(
            request, container, post.visitor, actor, team_id, status=422, error=message
        )
    return await redirect_after(
        container.teams.delete(actor=actor, team_id=team_id),
        done=f"/app/t/{tenant_id}/teams?notice=team_deleted",
        refused=_shown_again(request, container, post, actor, team_id),
    )


@router.post("/{team_id}/members")
async def add_member(
    tenant_id: uuid.UUID,
    team_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    post: PostDep,
) -> Response:
    """Put a tenant member in the team (as `PUT /v1/teams/{id}/members/{user_id}`)."""
    actor = await tenant_actor(request, container, post.visitor, tenant_id)
    user_id = form_id(post, "user_id")
    if user_id is None:
        message = "Choose a member of the tenant to add."
        return await team_page(
            request, container, post.visitor, actor, team_id, status=422, error=message
        )
    return await redirect_after(
        container.teams.add_member(actor=actor, team_id=team_id, user_id=user_id),
        done=f"/app/t/{tenant_id}/teams/{team_id}?notice=team_member_added",
        refused=_shown_again(request, container, post, actor, team_id),
    )


@router.post("/{team_id}/members/{user_id}/remove")
async def remove_member(
    tenant_id: uuid.UUID,
    team_id: uuid.UUID,
    user_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    post: PostDep,
) -> Response:
    """Take a member out of the team (as `DELETE /v1/teams/{id}/members/{user_id}`); they stay
    a member of the tenant."""
    actor = await tenant_actor(request, container, post.visitor, tenant_id)
    return await redirect_after(
        container.teams.remove_member(actor=actor, team_id=team_id, user_id=user_id),
        done=f"/app/t/{tenant_id}/teams/{team_id}?notice=team_member_removed",
        refused=_shown_again(request, container, post, actor, team_id),
    )
