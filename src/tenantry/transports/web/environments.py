"""One project's page in the web UI (SPEC §6, §11): its environments with their client keys
and snippets (copy button), the teams linked to it and its experiments; and the forms posted
from it: rename or delete the project, add or delete an environment, rotate a key, link or
unlink a team. The posts run the domain services the REST routers call, so the role rules
(viewers read, editors write, admins rotate keys) and the plan limits are the API's; a
refusal shows the domain's message on the page."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from tenantry.domain.names import EnvironmentName
from tenantry.errors import DomainError
from tenantry.transports.web.acting import Acting, FormVisit, PageVisit
from tenantry.transports.web.forms import TenantForm, add_rename_and_delete, show_refusal
from tenantry.transports.web.names import name_rule
from tenantry.transports.web.paging import page_links, requested_page
from tenantry.transports.web.projects import PROJECT_NAME, projects_page, projects_path
from tenantry.transports.web.render import WebRoute
from tenantry.transports.web.visitors import form_id

router = APIRouter(
    prefix="/app/t/{tenant_id}/projects/{project_id}",
    route_class=WebRoute,
    include_in_schema=False,
)
ENVIRONMENT_NAME = name_rule("an environment name", EnvironmentName)


async def project_page(
    acting: Acting, project_id: uuid.UUID, *, status: int = 200, **context: Any
) -> Response:
    """One project with its environments, keys and snippets; its absence is the 404 page."""
    request, services = acting.request, acting.container
    try:
        shown = await services.projects.overview(
            actor=acting.actor,
            project_id=project_id,
            environments=requested_page(request, "environments"),
            linked_teams=requested_page(request, "teams"),
            other_teams=requested_page(request, "other_teams"),
        )
        tried = await services.experiments.list(
            actor=acting.actor, project_id=project_id, page=requested_page(request, "experiments")
        )
    except DomainError as error:
        return await show_refusal(partial(projects_page, acting), error)
    path = f"{projects_path(acting.actor.tenant_id)}/{project_id}"
    tenant = await services.tenant_views.get(acting.actor.tenant_id)
    return await acting.tenant_page(
        "project.html",
        status=status,
        title=shown.project.name,
        tenant=tenant,
        project=shown.project,
        environments=shown.environments.items,
        environment_pages=page_links(request, path, "environments", shown.environments),
        experiments=tried.items,
        experiment_pages=page_links(request, path, "experiments", tried),
        experiments_refusal=services.plans.refusal(tenant, "experiments"),
        linked_teams=shown.linked_teams.items,
        linked_team_pages=page_links(request, path, "teams", shown.linked_teams),
        other_teams=shown.other_teams.items,
        other_team_pages=page_links(request, path, "other_teams", shown.other_teams),
        **context,
    )


async def project_form(tenant_id: uuid.UUID, project_id: uuid.UUID, visit: FormVisit) -> TenantForm:
    """The forms of the project's page; a refusal shows the page again."""
    acting = await visit.acting_in(tenant_id)
    path = f"{projects_path(tenant_id)}/{project_id}"
    again = partial(project_page, acting, project_id)
    return TenantForm(acting, path, again, {"project_id": project_id})


ProjectForm = Annotated[TenantForm, Depends(project_form)]


async def environment_form(
    tenant_id: uuid.UUID, project_id: uuid.UUID, environment_id: uuid.UUID, visit: FormVisit
) -> TenantForm:
    """The forms about one environment; every id of the path is read before the actor is
    checked, so a malformed one is a 422 whoever asks."""
    form = await project_form(tenant_id, project_id, visit)
    return form.about(environment_id=environment_id)


async def linked_team_form(
    tenant_id: uuid.UUID, project_id: uuid.UUID, team_id: uuid.UUID, visit: FormVisit
) -> TenantForm:
    return (await project_form(tenant_id, project_id, visit)).about(team_id=team_id)


EnvironmentForm = Annotated[TenantForm, Depends(environment_form)]
LinkedTeamForm = Annotated[TenantForm, Depends(linked_team_form)]


add_rename_and_delete(
    router, Depends(project_form), PROJECT_NAME, "project", lambda on: on.projects
)


@router.get("")
async def show(tenant_id: uuid.UUID, project_id: uuid.UUID, visit: PageVisit) -> Response:
    return await project_page(await visit.acting_in(tenant_id), project_id)


@router.post("/environments")
async def add_environment(form: ProjectForm) -> Response:
    """A new environment, its slug made from the name (as `POST .../environments`)."""
    added = partial(form.container.environments.create, slug=None)
    return await form.named(ENVIRONMENT_NAME, added, "environment_added")


@router.post("/environments/{environment_id}/rotate-key")
async def rotate_key(form: EnvironmentForm) -> Response:
    """Replace the client key (as `POST .../rotate-key`); the old key stops working."""
    return await form.change(form.container.environments.rotate_key, "key_rotated")


@router.post("/environments/{environment_id}/delete")
async def delete_environment(form: EnvironmentForm) -> Response:
    """Delete an environment (as `DELETE .../environments/{id}`); its key stops working."""
    return await form.change(form.container.environments.delete, "environment_deleted")


@router.post("/teams")
async def link_team(form: ProjectForm) -> Response:
    """Link a team of the tenant (as `PUT /v1/projects/{id}/teams/{team_id}`)."""
    chosen, problem = form_id(form.acting.form, "team_id"), "Choose a team to link."
    linked = form.container.projects.link_team
    return await form.change(linked, "team_linked", problem=problem, team_id=chosen)


@router.post("/teams/{team_id}/unlink")
async def unlink_team(form: LinkedTeamForm) -> Response:
    """Unlink a team (as `DELETE /v1/projects/{id}/teams/{team_id}`); the team stays."""
    return await form.change(form.container.projects.unlink_team, "team_unlinked")
