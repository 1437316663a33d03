"""A tenant's projects, their team links and their environments (SPEC §6 `/v1/projects`)."""

from __future__ import annotations

import uuid

from fastapi import Response, status

from tenantry.domain.accounts.environments import EnvironmentView
from tenantry.domain.accounts.projects import ProjectView
from tenantry.domain.idempotency import KeyClaim
from tenantry.transports.rest.deps import ContainerDep, PageDep, TenantDep
from tenantry.transports.rest.idempotency import CreateOnceDep, answered, json_body
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.common import Page
from tenantry.transports.rest.schemas.projects import (
    EnvironmentCreate,
    EnvironmentUpdate,
    ProjectCreate,
    ProjectUpdate,
)

router = PrefixedRouter(prefix="/v1/projects", tags=["projects"])
ENVIRONMENT = "/{project_id}/environments/{environment_id}"


@router.get("")
async def read_projects(
    container: ContainerDep, tenant: TenantDep, page: PageDep
) -> Page[ProjectView]:
    found = await container.projects.find(actor=tenant.actor, page=page)
    return Page[ProjectView](items=found.items, next_cursor=found.next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProjectView)
async def create_project(
    body: ProjectCreate, container: ContainerDep, tenant: TenantDep, once: CreateOnceDep
) -> Response:
    key: KeyClaim[ProjectView] | None = once.key_claim(
        body, user_id=tenant.principal.user_id, answer=json_body
    )
    created = await container.projects.create(actor=tenant.actor, name=body.name, key=key)
    return answered(created, json_body)


@router.get("/{project_id}")
async def read_project(
    project_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> ProjectView:
    project = await container.projects.get(actor=tenant.actor, project_id=project_id)
    return project


@router.patch("/{project_id}")
async def update_project(
    project_id: uuid.UUID, body: ProjectUpdate, container: ContainerDep, tenant: TenantDep
) -> ProjectView:
    project = await container.projects.rename(
        actor=tenant.actor, project_id=project_id, name=body.name
    )
    return project


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_project(
    project_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> Response:
    await container.projects.delete(actor=tenant.actor, project_id=project_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/{project_id}/teams/{team_id}")
async def link_team(
    project_id: uuid.UUID, team_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> ProjectView:
    project = await container.projects.link_team(
        actor=tenant.actor, project_id=project_id, team_id=team_id
    )
    return project


@router.delete("/{project_id}/teams/{team_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unlink_team(
    project_id: uuid.UUID, team_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> Response:
    await container.projects.unlink_team(actor=tenant.actor, project_id=project_id, team_id=team_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{project_id}/environments")
async def read_environments(
    project_id: uuid.UUID, container: ContainerDep, tenant: TenantDep, page: PageDep
) -> Page[EnvironmentView]:
    found = await container.environments.of_project(
        actor=tenant.actor, project_id=project_id, page=page
    )
    return Page[EnvironmentView](items=found.items, next_cursor=found.next_cursor)


@router.post(
    "/{project_id}/environments",
    status_code=status.HTTP_201_CREATED,
    response_model=EnvironmentView,
)
async def create_environment(
    project_id: uuid.UUID,
    body: EnvironmentCreate,
    container: ContainerDep,
    tenant: TenantDep,
    once: CreateOnceDep,
) -> Response:
    key: KeyClaim[EnvironmentView] | None = once.key_claim(
        body, user_id=tenant.principal.user_id, answer=json_body
    )
    created = await container.environments.create(
        actor=tenant.actor, project_id=project_id, name=body.name, slug=body.slug, key=key
    )
    return answered(created, json_body)


@router.get(ENVIRONMENT)
async def read_environment(
    project_id: uuid.UUID, environment_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> EnvironmentView:
    environment = await container.environments.get(
        actor=tenant.actor, project_id=project_id, environment_id=environment_id
    )
    return environment


@router.patch(ENVIRONMENT)
async def update_environment(
    project_id: uuid.UUID,
    environment_id: uuid.UUID,
    body: EnvironmentUpdate,
    container: ContainerDep,
    tenant: TenantDep,
) -> EnvironmentView:
    environment = await container.environments.rename(
        actor=tenant.actor, project_id=project_id, environment_id=environment_id, name=body.name
    )
    return environment


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
) -> EnvironmentView:
    environment = await container.environments.rotate_key(
        actor=tenant.actor, project_id=project_id, environment_id=environment_id
    )
    return environment
