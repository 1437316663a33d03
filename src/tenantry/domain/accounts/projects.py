"""A tenant's projects and the teams linked to them (SPEC §6): any member reads them, editors
change them. Every query is scoped by the actor's tenant."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.accounts.environments import (
    DEFAULT_ENVIRONMENTS,
    add_environments,
    project_row_or_raise,
)
from tenantry.domain.accounts.roles import TenantActor
from tenantry.domain.accounts.teams import team_row_or_raise
from tenantry.domain.accounts.tenants import lock_tenant
from tenantry.domain.audit import record_actor_audit
from tenantry.domain.events.outbox import Event, record_events
from tenantry.domain.pagination import Page, PageRequest, make_page, paginate
from tenantry.domain.plans.catalog import PlanCatalog
from tenantry.errors import NotFound
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.models import Project, ProjectTeam
from tenantry.storage.tables import PROJECT_TEAMS
from tenantry.storage.upsert import insert_on_conflict

_audit = partial(record_actor_audit, target_type="project")


@dataclass(frozen=True)
class ProjectView:
    id: uuid.UUID
    name: str
    team_ids: list[uuid.UUID]
    created_at: datetime


async def list_projects(
    session: AsyncSession,
    *,
    actor: TenantActor,
    page: PageRequest,
    linked_to_team: uuid.UUID | None = None,
) -> Page[ProjectView]:
    """The tenant's projects, oldest first; `linked_to_team` keeps the ones linked to it."""
    projects = select(Project).where(Project.tenant_id == actor.tenant_id)
    if linked_to_team is not None:
        projects = projects.where(
            select(ProjectTeam.project_id)
            .where(ProjectTeam.team_id == linked_to_team, ProjectTeam.project_id == Project.id)
            .exists()
        )
    statement = paginate(
        projects,
        page,
        created_at=Project.created_at,
        row_id=Project.id,
    )
    found = make_page(
        list(await session.scalars(statement)),
        page,
        key=lambda project: (project.created_at, project.id),
    )
    return Page(await _with_team_ids(session, actor, found.items), found.next_cursor)


async def get_project_or_raise(
    session: AsyncSession, *, actor: TenantActor, project_id: uuid.UUID
) -> ProjectView:
    project = await project_row_or_raise(session, tenant_id=actor.tenant_id, project_id=project_id)
    return await _view(session, actor, project)


async def create_project(
    session: AsyncSession, *, actor: TenantActor, plans: PlanCatalog, name: str, now: datetime
) -> ProjectView:
    """A new project with the default environments, as onboarding makes the first one, within
    the plan's `projects` limit."""
    actor.require("editor")
    tenant = await lock_tenant(session, actor.tenant_id)
    used = await session.scalar(
        select(func.count()).select_from(Project).where(Project.tenant_id == actor.tenant_id)
    )
    plans.of_tenant(tenant.plan).check_limit("projects", used=used or 0)
    project = Project(
        id=uuid.uuid4(), tenant_id=actor.tenant_id, name=name, created_at=now, updated_at=now
    )
    session.add(project)
    await session.flush()
    await record_events(session, [_project_event("project.created", actor, project)], now=now)
    await add_environments(
        session,
        actor=actor,
        project_id=project.id,
        names_and_slugs=DEFAULT_ENVIRONMENTS,
        now=now,
    )
    return ProjectView(project.id, project.name, [], project.created_at)


async def rename_project(
    session: AsyncSession,
    *,
    actor: TenantActor,
    project_id: uuid.UUID,
    name: str | None,
    now: datetime,
) -> ProjectView:
    actor.require("editor")
    project = await project_row_or_raise(
        session, tenant_id=actor.tenant_id, project_id=project_id, lock=True
    )
    if name is not None and name != project.name:
        project.name, project.updated_at = name, now
        await session.flush()
        await _audit(session, actor, "project.updated", project_id, {"name": name}, now=now)
    return await _view(session, actor, project)


async def delete_project(
    session: AsyncSession, *, actor: TenantActor, project_id: uuid.UUID, now: datetime
) -> None:
    """Delete the project; its environments and team links go with it (foreign key cascade)."""
    actor.require("editor")
    project = await project_row_or_raise(
        session, tenant_id=actor.tenant_id, project_id=project_id, lock=True
    )
    await record_events(session, [_project_event("project.deleted", actor, project)], now=now)
    await session.execute(delete(Project).where(Project.id == project.id))
    await bump_access_epoch(session)  # its environments' client keys stop collecting now


async def link_team(
    session: AsyncSession,
    *,
    actor: TenantActor,
    project_id: uuid.UUID,
    team_id: uuid.UUID,
    now: datetime,
) -> ProjectView:
    """Link a team of the tenant to the project; linking it again changes nothing."""
    actor.require("editor")
    project = await project_row_or_raise(
        session, tenant_id=actor.tenant_id, project_id=project_id, lock=True
    )
    await team_row_or_raise(session, tenant_id=actor.tenant_id, team_id=team_id, lock=True)
    linked = await session.execute(
        insert_on_conflict(session, PROJECT_TEAMS)
        .values(project_id=project_id, team_id=team_id, tenant_id=actor.tenant_id, created_at=now)
        .on_conflict_do_nothing()
    )
    if linked.rowcount:  # type: ignore[attr-defined]
        data = {"team_id": str(team_id)}
        await _audit(session, actor, "project.team_linked", project_id, data, now=now)
    return await _view(session, actor, project)


async def unlink_team(
    session: AsyncSession,
    *,
    actor: TenantActor,
    project_id: uuid.UUID,
    team_id: uuid.UUID,
    now: datetime,
) -> None:
    actor.require("editor")
    await project_row_or_raise(session, tenant_id=actor.tenant_id, project_id=project_id)
    connection = await session.connection()
    unlinked = await connection.execute(
        delete(ProjectTeam).where(
            ProjectTeam.tenant_id == actor.tenant_id,
            ProjectTeam.project_id == project_id,
            ProjectTeam.team_id == team_id,
        )
    )
    if unlinked.rowcount == 0:
        raise NotFound("That team is not linked to this project.", code="team_link_not_found")
    data = {"team_id": str(team_id)}
    await _audit(session, actor, "project.team_unlinked", project_id, data, now=now)


async def _view(session: AsyncSession, actor: TenantActor, project: Project) -> ProjectView:
    [view] = await _with_team_ids(session, actor, [project])
    return view


async def _with_team_ids(
    session: AsyncSession, actor: TenantActor, projects: list[Project]
) -> list[ProjectView]:
    """The projects with their linked teams, in link order, read in one query."""
    team_ids: defaultdict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    if projects:
        links = await session.execute(
            select(ProjectTeam.project_id, ProjectTeam.team_id)
            .where(
                ProjectTeam.tenant_id == actor.tenant_id,
                ProjectTeam.project_id.in_([project.id for project in projects]),
            )
            .order_by(ProjectTeam.created_at, ProjectTeam.team_id)
        )
        for project_id, team_id in links:
            team_ids[project_id].append(team_id)
    return [ProjectView(p.id, p.name, team_ids[p.id], p.created_at) for p in projects]


def _project_event(event_type: str, actor: TenantActor, project: Project) -> Event:
    return Event(
        event_type,
        actor.tenant_id,
        actor.user_id,
        {"project_id": str(project.id), "name": project.name},
    )
