"""Reading a tenant's projects and environments; every query is scoped by tenant id."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.pagination import Page, PageRequest, make_page, paginate
from tenantry.errors import NotFound
from tenantry.storage.models import Environment, Project


async def list_projects(
    session: AsyncSession, *, tenant_id: uuid.UUID, page: PageRequest
) -> Page[Project]:
    statement = paginate(
        select(Project).where(Project.tenant_id == tenant_id),
        page,
        created_at=Project.created_at,
        row_id=Project.id,
    )
    rows = list(await session.scalars(statement))
    return make_page(rows, page, key=lambda project: (project.created_at, project.id))


async def get_project_or_raise(
    session: AsyncSession, *, tenant_id: uuid.UUID, project_id: uuid.UUID
) -> Project:
    project = await session.scalar(
        select(Project).where(Project.id == project_id, Project.tenant_id == tenant_id)
    )
    if project is None:
        raise NotFound("No such project in this tenant.", code="project_not_found")
    return project


async def list_environments(
    session: AsyncSession, *, tenant_id: uuid.UUID, project_id: uuid.UUID, page: PageRequest
) -> Page[Environment]:
    await get_project_or_raise(session, tenant_id=tenant_id, project_id=project_id)
    statement = paginate(
        select(Environment).where(
            Environment.tenant_id == tenant_id, Environment.project_id == project_id
        ),
        page,
        created_at=Environment.created_at,
        row_id=Environment.id,
    )
    rows = list(await session.scalars(statement))
    return make_page(rows, page, key=lambda env: (env.created_at, env.id))
