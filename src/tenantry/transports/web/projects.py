"""A tenant's projects and their environments in the web UI (SPEC §6, §11): list, create,
rename and delete projects; per project its environments with their client keys and snippets
(copy button), add, delete and key rotation, and the teams linked to it. Every post runs the
domain services the REST routers call, so the role rules (viewers read, editors write, admins
rotate keys) and the plan limits are the API's; a refusal shows the domain's message on the
page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Response

from tenantry.bootstrap import Container
from tenantry.domain.accounts import environments
from tenantry.domain.accounts.roles import TenantActor, outranks_or_equals
from tenantry.errors import DomainError
from tenantry.storage.models import Environment
from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.rest.schemas.projects import EnvironmentName, ProjectName
from tenantry.transports.web.app_pages import app_page, tenant_actor
from tenantry.transports.web.entry import failure
from tenantry.transports.web.forms import PageAgain, redirect_after
from tenantry.transports.web.names import name_rule
from tenantry.transports.web.paging import page_links, requested_page
from tenantry.transports.web.render import WebRoute
from tenantry.transports.web.visitors import Post, PostDep, Visitor, VisitorDep, field, form_id

router = APIRouter(
    prefix="/app/t/{tenant_id}/projects", route_class=WebRoute, include_in_schema=False
)
PROJECT_NAME = name_rule("a project name", ProjectName)
ENVIRONMENT_NAME = name_rule("an environment name", EnvironmentName)


@dataclass(frozen=True)
class EnvironmentItem:
    id: uuid.UUID
    name: str
    slug: str
    client_key: str
    snippet: str


def _rights(actor: TenantActor) -> dict[str, bool]:
    return {
        "can_edit": outranks_or_equals(actor.role, "editor"),
        "can_rotate": outranks_or_equals(actor.role, "admin"),
    }


async def projects_page(
    request: Request,
    container: Container,
    visitor: Visitor,
    actor: TenantActor,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    """The tenant's projects, as of now."""
    tenant = await container.tenant_views.get(actor.tenant_id)
    found = await container.projects.find(actor=actor, page=requested_page(request, "after"))
    return await app_page(
        request,
        container,
        visitor,
        "projects.html",
        status=status,
        current_tenant_id=actor.tenant_id,
        title=f"Projects · {tenant.name}",
        tenant=tenant,
        projects=found.items,
        project_pages=page_links(request, f"/app/t/{actor.tenant_id}/projects", "after", found),
        **_rights(actor),
        **context,
    )


async def project_page(
    request: Request,
    container: Container,
    visitor: Visitor,
    actor: TenantActor,
    project_id: uuid.UUID,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    """One project with its environments, keys and snippets; its absence is the 404 page."""
    tenant = await container.tenant_views.get(actor.tenant_id)
    try:
        shown = await container.projects.overview(
            actor=actor,
            project_id=project_id,
            environments=requested_page(request, "environments"),
            linked_teams=requested_page(request, "teams"),
            other_teams=requested_page(request, "other_teams"),
        )
        tried = await container.experiments.list(
            actor=actor, project_id=project_id, page=requested_page(request, "experiments")
        )
    except DomainError as error:
        code, message = failure(error)
        return await projects_page(request, container, visitor, actor, status=code, error=message)
    path = f"/app/t/{actor.tenant_id}/projects/{project_id}"
    return await app_page(
        request,
        container,
        visitor,
        "project.html",
        status=status,
        current_tenant_id=actor.tenant_id,
        title=f"{shown.project.name} · {tenant.name}",
        tenant=tenant,
        project=shown.project,
        environments=_environment_items(container, shown.environments.items),
        environment_pages=page_links(request, path, "environments", shown.environments),
        experiments=tried.items,
        experiment_pages=page_links(request, path, "experiments", tried),
        experiments_refusal=container.plans.refusal(tenant, "experiments"),
        linked_teams=shown.linked_teams.items,
        linked_team_pages=page_links(request, path, "teams", shown.linked_teams),
        other_teams=shown.other_teams.items,
        other_team_pages=page_links(request, path, "other_teams", shown.other_teams),
        **_rights(actor),
        **context,
    )


@router.get("")
async def list_page(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, visitor: VisitorDep
) -> Response:
    actor = await tenant_actor(request, container, visitor, tenant_id)
    return await projects_page(request, container, visitor, actor)


@router.post("")
async def create(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, post: PostDep
) -> Response:
    """A new project with the default environments (as `POST /v1/projects`)."""
    actor = await tenant_actor(request, container, post.visitor, tenant_id)
    name = PROJECT_NAME.read(post.form)
    if name is None:
        return await projects_page(
            request, container, post.visitor, actor, status=422, error=PROJECT_NAME.message
        )
    return await redirect_after(
        container.projects.create(actor=actor, name=name),
        done=lambda project: f"/app/t/{tenant_id}/projects/{project.id}?notice=project_created",
        refused=partial(projects_page, request, container, post.visitor, actor),
    )


@router.get("/{project_id}")
async def show(
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    visitor: VisitorDep,
) -> Response:
    actor = await tenant_actor(request, container, visitor, tenant_id)
    return await project_page(request, container, visitor, actor, project_id)


@router.post("/{project_id}/rename")
async def rename(
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    post: PostDep,
) -> Response:
    """Rename the project (as `PATCH /v1/projects/{id}`)."""
    actor = await tenant_actor(request, container, post.visitor, tenant_id)
    name = PROJECT_NAME.read(post.form)
    if name is None:
        message = PROJECT_NAME.message
        return await project_page(
            request, container, post.visitor, actor, project_id, status=422, error=message
        )
    return await redirect_after(
        container.projects.rename(actor=actor, project_id=project_id, name=name),
        done=f"/app/t/{tenant_id}/projects/{project_id}?notice=project_renamed",
        refused=_shown_again(request, container, post, actor, project_id),
    )


@router.post("/{project_id}/delete")
async def delete(
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    post: PostDep,
) -> Response:
    """Delete the project and its environments (as `DELETE /v1/projects/{id}`), only with the
    confirmation box ticked: its client keys stop collecting at once."""
    actor = await tenant_actor(request, container, post.visitor, tenant_id)
    if field(post.form, "confirm", limit=8) != "yes":
        message = "Tick the box to confirm deleting the project."
        return await project_page(
            request, container, post.visitor, actor, project_id, status=422, error=message
        )
    return await redirect_after(
        container.projects.delete(actor=actor, project_id=project_id),
        done=f"/app/t/{tenant_id}/projects?notice=project_deleted",
        refused=_shown_again(request, container, post, actor, project_id),
    )


@router.post("/{project_id}/environments")
async def add_environment(
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    post: PostDep,
) -> Response:
    """A new environment, its slug made from the name (as `POST .../environments`)."""
    actor = await tenant_actor(request, container, post.visitor, tenant_id)
    name = ENVIRONMENT_NAME.read(post.form)
    if name is None:
        message = ENVIRONMENT_NAME.message
        return await project_page(
            request, container, post.visitor, actor, project_id, status=422, error=message
        )
    return await redirect_after(
        container.environments.create(actor=actor, project_id=project_id, name=name, slug=None),
        done=f"/app/t/{tenant_id}/projects/{project_id}?notice=environment_added",
        refused=_shown_again(request, container, post, actor, project_id),
    )


@router.post("/{project_id}/environments/{environment_id}/rotate-key")
async def rotate_key(
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    environment_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    post: PostDep,
) -> Response:
    """Replace the client key (as `POST .../rotate-key`); the old key stops working."""
    actor = await tenant_actor(request, container, post.visitor, tenant_id)
    return await redirect_after(
        container.environments.rotate_key(
            actor=actor, project_id=project_id, environment_id=environment_id
        ),
        done=f"/app/t/{tenant_id}/projects/{project_id}?notice=key_rotated",
        refused=_shown_again(request, container, post, actor, project_id),
    )


@router.post("/{project_id}/environments/{environment_id}/delete")
async def delete_environment(
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    environment_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    post: PostDep,
) -> Response:
    """Delete an environment (as `DELETE .../environments/{id}`); its key stops working."""
    actor = await tenant_actor(request, container, post.visitor, tenant_id)
    return await redirect_after(
        container.environments.delete(
            actor=actor, project_id=project_id, environment_id=environment_id
        ),
        done=f"/app/t/{tenant_id}/projects/{project_id}?notice=environment_deleted",
        refused=_shown_again(request, container, post, actor, project_id),
    )


@router.post("/{project_id}/teams")
async def link_team(
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    post: PostDep,
) -> Response:
    """Link a team of the tenant (as `PUT /v1/projects/{id}/teams/{team_id}`)."""
    actor = await tenant_actor(request, container, post.visitor, tenant_id)
    team_id = form_id(post, "team_id")
    if team_id is None:
        message = "Choose a team to link."
        return await project_page(
            request, container, post.visitor, actor, project_id, status=422, error=message
        )
    return await redirect_after(
        container.projects.link_team(actor=actor, project_id=project_id, team_id=team_id),
        done=f"/app/t/{tenant_id}/projects/{project_id}?notice=team_linked",
        refused=_shown_again(request, container, post, actor, project_id),
    )


@router.post("/{project_id}/teams/{team_id}/unlink")
async def unlink_team(
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    team_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    post: PostDep,
) -> Response:
    """Unlink a team (as `DELETE /v1/projects/{id}/teams/{team_id}`); the team stays."""
    actor = await tenant_actor(request, container, post.visitor, tenant_id)
    return await redirect_after(
        container.projects.unlink_team(actor=actor, project_id=project_id, team_id=team_id),
        done=f"/app/t/{tenant_id}/projects/{project_id}?notice=team_unlinked",
        refused=_shown_again(request, container, post, actor, project_id),
    )


def _environment_items(container: Container, rows: list[Environment]) -> list[EnvironmentItem]:
    public_url = container.settings.public_url
    return [
        EnvironmentItem(
            env.id,
            env.name,
            env.slug,
            env.client_key,
            environments.snippet(public_url=public_url, client_key=env.client_key),
        )
        for env in rows
    ]


def _shown_again(
    request: Request, container: Container, post: Post, actor: TenantActor, project_id: uuid.UUID
) -> PageAgain:
    return partial(project_page, request, container, post.visitor, actor, project_id)
