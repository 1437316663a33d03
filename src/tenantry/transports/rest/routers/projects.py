"""A tenant's projects, their team links and their environments (SPEC §6 `/v1/projects`)."""

from __future__ import annotations

import uuid

from fastapi import Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.bootstrap import Container
from tenantry.domain.accounts import environments, projects
from tenantry.domain.data import cleanup
from tenantry.storage.models import Environment
from tenantry.transports.rest.deps import ContainerDep, PageDep, TenantDep
from tenantry.transports.rest.idempotency import CreateOnceDep
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
    async with container.db.read() as session:
        found = await projects.list_projects(session, actor=tenant.actor, page=page)
    return Page[ProjectRead].model_validate(found, from_attributes=True)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProjectRead)
async def create_project(
    body: ProjectCreate, container: ContainerDep, tenant: TenantDep, once: CreateOnceDep
) -> Response:
    async def work(session: AsyncSession) -> ProjectRead:
        project = await projects.create_project(
            session,
            actor=tenant.actor,
            plans=container.plans,
            name=body.name,
            now=container.clock.now(),
        )
        return ProjectRead.model_validate(project)

    return await once.run(work, user_id=tenant.principal.user_id, body=body)


@router.get("/{project_id}")
async def read_project(
    project_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> ProjectRead:
    async with container.db.read() as session:
        project = await projects.get_project_or_raise(
            session, actor=tenant.actor, project_id=project_id
        )
    return ProjectRead.model_validate(project)


@router.patch("/{project_id}")
async def update_project(
    project_id: uuid.UUID, body: ProjectUpdate, container: ContainerDep, tenant: TenantDep
) -> ProjectRead:
    async with container.db.transaction() as session:
        project = await projects.rename_project(
            session,
            actor=tenant.actor,
            project_id=project_id,
            name=body.name,
            now=container.clock.now(),
        )
    return ProjectRead.model_validate(project)


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_project(
    project_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> Response:
    async with container.db.transaction() as session:
        await projects.delete_project(
            session, actor=tenant.actor, project_id=project_id, now=container.clock.now()
        )
    async with container.tenant_data.unit(tenant.tenant_id, write=True) as data:
        await cleanup.forget_project(data, project_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/{project_id}/teams/{team_id}")
async def link_team(
    project_id: uuid.UUID, team_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> ProjectRead:
    async with container.db.transaction() as session:
        project = await projects.link_team(
            session,
            actor=tenant.actor,
            project_id=project_id,
            team_id=team_id,
            now=container.clock.now(),
        )
    return ProjectRead.model_validate(project)


@router.delete("/{project_id}/teams/{team_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unlink_team(
    project_id: uuid.UUID, team_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> Response:
    async with container.db.transaction() as session:
        await projects.unlink_team(
            session,
            actor=tenant.actor,
            project_id=project_id,
            team_id=team_id,
            now=container.clock.now(),
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{project_id}/environments")
async def read_environments(
    project_id: uuid.UUID, container: ContainerDep, tenant: TenantDep, page: PageDep
) -> Page[EnvironmentRead]:
    async with container.db.read() as session:
        found = await environments.list_environments(
            session, actor=tenant.actor, project_id=project_id, page=page
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
    async def work(session: AsyncSession) -> EnvironmentRead:
        environment = await environments.create_environment(
            session,
            actor=tenant.actor,
            plans=container.plans,
            project_id=project_id,
            name=body.name,
            slug=body.slug,
            now=container.clock.now(),
        )
        return _environment_read(container, environment)

    return await once.run(work, user_id=tenant.principal.user_id, body=body)


@router.get(ENVIRONMENT)
async def read_environment(
    project_id: uuid.UUID, environment_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> EnvironmentRead:
    async with container.db.read() as session:
        environment = await environments.get_environment_or_raise(
            session, actor=tenant.actor, project_id=project_id, environment_id=environment_id
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
    async with container.db.transaction() as session:
        environment = await environments.rename_environment(
            session,
            actor=tenant.actor,
            project_id=project_id,
            environment_id=environment_id,
            name=body.name,
            now=container.clock.now(),
        )
    return _environment_read(container, environment)


@router.delete(ENVIRONMENT, status_code=status.HTTP_204_NO_CONTENT)
async def delete_environment(
    project_id: uuid.UUID, environment_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> Response:
    async with container.db.transaction() as session:
        await environments.delete_environment(
            session,
            actor=tenant.actor,
            project_id=project_id,
            environment_id=environment_id,
            now=container.clock.now(),
        )
    async with container.tenant_data.unit(tenant.tenant_id, write=True) as data:
        await cleanup.forget_environment(data, environment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(f"{ENVIRONMENT}/rotate-key")
async def rotate_environment_key(
    project_id: uuid.UUID, environment_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> EnvironmentRead:
    async with container.db.transaction() as session:
        environment = await environments.rotate_client_key(
            session,
            actor=tenant.actor,
            project_id=project_id,
            environment_id=environment_id,
            now=container.clock.now(),
        )
    return _environment_read(container, environment)


def _environment_read(container: Container, environment: Environment) -> EnvironmentRead:
    return EnvironmentRead.of(environment, public_url=container.settings.public_url)
