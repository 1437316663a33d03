"""A tenant's projects, their team links and their environments (SPEC §6 `/v1/projects`)."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from fastapi import Response, status

from tenantry.bootstrap import Container
from tenantry.domain.accounts.projects import ProjectView
from tenantry.storage.models import Environment
from tenantry.transports.rest.deps import ContainerDep, PageDep, TenantDep
from tenantry.transports.rest.idempotency import CreateOnceDep, answered
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.common import Page
from tenantry.transports.rest.schemas.projects import (
    EnvironmentCreate,
    EnvironmentRead,
    EnvironmentUpdate,
    ProjectCreate,
    ProjectRead,
    ProjectUpdate,
)

router = PrefixedRouter(prefix="/v1/projects", tags=["projects"])
ENVIRONMENT = "/{project_id}/environments/{environment_id}"


@router.get("")
async def read_projects(
    container: ContainerDep, tenant: TenantDep, page: PageDep
) -> Page[ProjectRead]:
    found = await container.projects.find(actor=tenant.actor, page=page)
    return Page[ProjectRead].model_validate(found, from_attributes=True)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProjectRead)
async def create_project(
    body: ProjectCreate, container: ContainerDep, tenant: TenantDep, once: CreateOnceDep
) -> Response:
    key = once.key_claim(body, user_id=tenant.principal.user_id, answer=_project_body)
    created = await container.projects.create(actor=tenant.actor, name=body.name, key=key)
    return answered(created, _project_body)


@router.get("/{project_id}")
async def read_project(
    project_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> ProjectRead:
    project = await container.projects.get(actor=tenant.actor, project_id=project_id)
    return ProjectRead.model_validate(project)


@router.patch("/{project_id}")
async def update_project(
    project_id: uuid.UUID, body: ProjectUpdate, container: ContainerDep, tenant: TenantDep
) -> ProjectRead:
    project = await container.projects.rename(
        actor=tenant.actor, project_id=project_id, name=body.name
    )
    return ProjectRead.model_validate(project)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_project(
    project_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> Response:
    await container.projects.delete(actor=tenant.actor, project_id=project_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/{project_id}/teams/{team_id}")
async def link_team(
    project_id: uuid.UUID, team_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> ProjectRead:
    project = await container.projects.link_team(
        actor=tenant.actor, project_id=project_id, team_id=team_id
    )
    return ProjectRead.model_validate(project)


@router.delete("/{project_id}/teams/{team_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unlink_team(
    project_id: uuid.UUID, team_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> Response:
    await container.projects.unlink_team(actor=tenant.actor, project_id=project_id, team_id=team_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{project_id}/environments")
async def read_environments(
    project_id: uuid.UUID, container: ContainerDep, tenant: TenantDep, page: PageDep
) -> Page[EnvironmentRead]:
    found = await container.environments.of_project(
        actor=tenant.actor, project_id=project_id, page=page
    )
    items = [_environment_read(container, env) for env in found.items]
    return Page[EnvironmentRead](items=items, next_cursor=found.next_cursor)


@router.post(
    "/{project_id}/environments",
    status_code=status.HTTP_201_CREATED,
    response_model=EnvironmentRead,
)
async def create_environment(
    project_id: uuid.UUID,
    body: EnvironmentCreate,
    container: ContainerDep,
    tenant: TenantDep,
    once: CreateOnceDep,
) -> Response:
    render = partial(_environment_body, container)
    key = once.key_claim(body, user_id=tenant.principal.user_id, answer=render)
    created = await container.environments.create(
        actor=tenant.actor, project_id=project_id, name=body.name, slug=body.slug, key=key
    )
    return answered(created, render)


@router.get(ENVIRONMENT)
async def read_environment(
    project_id: uuid.UUID, environment_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> EnvironmentRead:
    environment = await container.environments.get(
        actor=tenant.actor, project_id=project_id, environment_id=environment_id
    )
    return _environment_read(container, environment)


@router.patch(ENVIRONMENT)
async def update_environment(
    project_id: uuid.UUID,
    environment_id: uuid.UUID,
    body: EnvironmentUpdate,
    container: ContainerDep,
    tenant: TenantDep,
) -> EnvironmentRead:
    environment = await container.environments.rename(
        actor=tenant.actor, project_id=project_id, environment_id=environment_id, name=body.name
    )
    return _environment_read(container, environment)


@router.delete(ENVIRONMENT, status_code=status.HTTP_204_NO_CONTENT)
async def delete_environment(
    project_id: uuid.UUID, environment_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> Response:
    await container.environments.delete(
        actor=tenant.actor, project_id=project_id, environment_id=environment_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(f"{ENVIRONMENT}/rotate-key")
async def rotate_environment_key(
    project_id: uuid.UUID, environment_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> EnvironmentRead:
    environment = await container.environments.rotate_key(
        actor=tenant.actor, project_id=project_id, environment_id=environment_id
    )
    return _environment_read(container, environment)


def _project_body(project: ProjectView) -> dict[str, Any]:
    return ProjectRead.model_validate(project).model_dump(mode="json")


def _environment_read(container: Container, environment: Environment) -> EnvironmentRead:
    return EnvironmentRead.of(environment, public_url=container.settings.public_url)


def _environment_body(container: Container, environment: Environment) -> dict[str, Any]:
    return _environment_read(container, environment).model_dump(mode="json")
