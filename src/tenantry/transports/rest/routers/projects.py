"""A tenant's projects and environments (read side; SPEC §6)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from tenantry.domain.accounts.environments import snippet
from tenantry.domain.accounts.projects import list_environments, list_projects
from tenantry.transports.rest.deps import ContainerDep, PageDep, TenantDep
from tenantry.transports.rest.schemas.accounts import EnvironmentRead, ProjectRead
from tenantry.transports.rest.schemas.common import Page

router = APIRouter(prefix="/v1/projects", tags=["projects"])


@router.get("")
async def read_projects(
    container: ContainerDep, tenant: TenantDep, page: PageDep
) -> Page[ProjectRead]:
    async with container.db.read() as session:
        found = await list_projects(session, tenant_id=tenant.tenant_id, page=page)
    return Page[ProjectRead](
        items=[ProjectRead.model_validate(p) for p in found.items], next_cursor=found.next_cursor
    )


@router.get("/{project_id}/environments")
async def read_environments(
    project_id: uuid.UUID, container: ContainerDep, tenant: TenantDep, page: PageDep
) -> Page[EnvironmentRead]:
    async with container.db.read() as session:
        found = await list_environments(
            session, tenant_id=tenant.tenant_id, project_id=project_id, page=page
        )
    public_url = container.settings.public_url
    items = [
        EnvironmentRead(
            id=env.id,
            name=env.name,
            slug=env.slug,
            client_key=env.client_key,
            snippet=snippet(public_url=public_url, client_key=env.client_key),
            created_at=env.created_at,
        )
        for env in found.items
    ]
    return Page[EnvironmentRead](items=items, next_cursor=found.next_cursor)
