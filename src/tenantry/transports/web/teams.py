"""A tenant's teams in the web UI (SPEC §6, §11): list teams with their member counts, create,
rename and delete them; per team its members (admins add a tenant member or remove one) and the
projects it is linked to. Every post runs the domain services the REST teams router calls, so
the role rules (viewers read, admins change teams and see their members) are the API's; a
refusal shows the domain's message on the page."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Response

from tenantry.domain.names import TeamName
from tenantry.errors import DomainError
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.web.acting import Acting, FormVisit, PageVisit
from tenantry.transports.web.forms import TenantForm, add_rename_and_delete, show_refusal
from tenantry.transports.web.names import name_rule
from tenantry.transports.web.paging import page_links, requested_page
from tenantry.transports.web.render import WebRoute
from tenantry.transports.web.visitors import form_id

router = PrefixedRouter(
    prefix="/app/t/{tenant_id}/teams", route_class=WebRoute, include_in_schema=False
)
# One team's page and the forms posted from it.
team_router = PrefixedRouter(
    prefix="/app/t/{tenant_id}/teams/{team_id}", route_class=WebRoute, include_in_schema=False
)
TEAM_NAME = name_rule("a team name", TeamName)


def teams_path(tenant_id: uuid.UUID) -> str:
    return f"/app/t/{tenant_id}/teams"


async def teams_page(acting: Acting, *, status: int = 200, **context: Any) -> Response:
    """The tenant's teams with their member counts, as of now."""
    return await acting.listing_page(
        "teams.html",
        acting.container.teams.find,
        title="Teams",
        collection="teams",
        status=status,
        **context,
    )


async def team_page(
    acting: Acting, team_id: uuid.UUID, *, status: int = 200, **context: Any
) -> Response:
    """One team with its linked projects, and for admins its members and who can be added; its
    absence is the teams page with a 404."""
    request = acting.request
    try:
        shown = await acting.container.teams.overview(
            actor=acting.actor,
            team_id=team_id,
            projects=requested_page(request, "projects"),
            members=requested_page(request, "members"),
            candidates=requested_page(request, "candidates"),
        )
    except DomainError as error:
        return await show_refusal(partial(teams_page, acting), error)
    path = f"{teams_path(acting.actor.tenant_id)}/{team_id}"
    members, candidates = shown.members, shown.candidates
    return await acting.tenant_page(
        "team.html",
        status=status,
        title=shown.team.name,
        team=shown.team,
        linked_projects=shown.linked_projects.items,
        project_pages=page_links(request, path, "projects", shown.linked_projects),
        members=members.items if members else [],
        member_pages=members and page_links(request, path, "members", members),
        candidates=candidates.items if candidates else [],
        candidate_pages=candidates and page_links(request, path, "candidates", candidates),
        **context,
    )


async def team_form(tenant_id: uuid.UUID, team_id: uuid.UUID, visit: FormVisit) -> TenantForm:
    """The forms of the team's page; a refusal shows the page again."""
    acting = await visit.acting_in(tenant_id)
    path = f"{teams_path(tenant_id)}/{team_id}"
    return TenantForm(acting, path, partial(team_page, acting, team_id), {"team_id": team_id})


async def team_member_form(
    tenant_id: uuid.UUID, team_id: uuid.UUID, user_id: uuid.UUID, visit: FormVisit
) -> TenantForm:
    """The forms about one member of the team, every id of the path read before the actor is
    checked."""
    return (await team_form(tenant_id, team_id, visit)).about(user_id=user_id)


TeamForm = Annotated[TenantForm, Depends(team_form)]
TeamMemberForm = Annotated[TenantForm, Depends(team_member_form)]


@router.get("")
async def list_page(tenant_id: uuid.UUID, visit: PageVisit) -> Response:
    return await teams_page(await visit.acting_in(tenant_id))


@router.post("")
async def create(tenant_id: uuid.UUID, visit: FormVisit) -> Response:
    """A new team (as `POST /v1/teams`), within the plan's team limit."""
    acting, path = await visit.acting_in(tenant_id), teams_path(tenant_id)
    form = TenantForm(acting, path, partial(teams_page, acting), {})
    to_team = lambda team: f"{path}/{team.id}"  # noqa: E731
    return await form.named(TEAM_NAME, visit.container.teams.create, "team_created", done=to_team)


add_rename_and_delete(team_router, Depends(team_form), TEAM_NAME, "team", lambda on: on.teams)


@team_router.get("")
async def show(tenant_id: uuid.UUID, team_id: uuid.UUID, visit: PageVisit) -> Response:
    return await team_page(await visit.acting_in(tenant_id), team_id)


@team_router.post("/members")
async def add_member(form: TeamForm) -> Response:
    """Put a tenant member in the team (as `PUT /v1/teams/{id}/members/{user_id}`)."""
    problem = "Choose a member of the tenant to add."
    chosen, added = form_id(form.acting.form, "user_id"), form.container.teams.add_member
    return await form.change(added, "team_member_added", problem=problem, user_id=chosen)


@team_router.post("/members/{user_id}/remove")
async def remove_member(form: TeamMemberForm) -> Response:
    """Take a member out of the team (as `DELETE /v1/teams/{id}/members/{user_id}`); they stay
    a member of the tenant."""
    return await form.change(form.container.teams.remove_member, "team_member_removed")
