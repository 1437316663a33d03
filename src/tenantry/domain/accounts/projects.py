"""A tenant's projects and the teams linked to them (SPEC §6): any member reads them, editors
change them. Every query is scoped by the actor's tenant."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import overload

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.accounts.capabilities import EDIT_PROJECTS
from tenantry.domain.accounts.environments import (
    DEFAULT_ENVIRONMENTS,
    EnvironmentView,
    add_environments,
    list_environments,
    project_row_or_raise,
)
from tenantry.domain.accounts.roles import TenantActor
from tenantry.domain.accounts.teams import TeamView, list_teams, team_row_or_raise
from tenantry.domain.accounts.tenants import lock_tenant
from tenantry.domain.audit import record_actor_audit
from tenantry.domain.dataplane import cleanup
from tenantry.domain.dataplane.units import TenantData
from tenantry.domain.events.outbox import Event, record_events
from tenantry.domain.idempotency import KeyClaim, StoredResponse, answer_once
from tenantry.domain.pagination import Page, PageRequest, make_page, paginate
from tenantry.domain.plans.catalog import PlanCatalog
from tenantry.domain.readmodel import ReadModel
from tenantry.errors import NotFound
from tenantry.storage.database import Database
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.models import Project, ProjectTeam
from tenantry.storage.tables import PROJECT_TEAMS
from tenantry.storage.upsert import insert_on_conflict

_audit = partial(record_actor_audit, target_type="project")


class ProjectView(ReadModel):
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


async def create_project(
    session: AsyncSession, *, actor: TenantActor, plans: PlanCatalog, name: str, now: datetime
) -> ProjectView:
    """A new project with the default environments, as onboarding makes the first one, within
    the plan's `projects` limit (the service's and the onboarding wizard's unit of work)."""
    actor.require(EDIT_PROJECTS)
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
    return ProjectView(id=project.id, name=project.name, team_ids=[], created_at=project.created_at)


@dataclass(frozen=True)
class ProjectOverview:
    """A project's page: the project, its environments and the teams linked to it or not."""

    project: ProjectView
    environments: Page[EnvironmentView]
    linked_teams: Page[TeamView]
    other_teams: Page[TeamView]


class Projects:
    """The projects service: each method is one unit of work, a deletion also the cleanup of
    the tenant's data store after it."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        plans: PlanCatalog,
        tenant_data: TenantData,
        public_url: str,
    ) -> None:
        self._db = db
        self._clock = clock
        self._plans = plans
        self._tenant_data = tenant_data
        self._public_url = public_url

    async def find(self, *, actor: TenantActor, page: PageRequest) -> Page[ProjectView]:
        async with self._db.read() as session:
            return await list_projects(session, actor=actor, page=page)

    async def get(self, *, actor: TenantActor, project_id: uuid.UUID) -> ProjectView:
        async with self._db.read() as session:
            return await _project_or_raise(session, actor, project_id)

    async def overview(
        self,
        *,
        actor: TenantActor,
        project_id: uuid.UUID,
        environments: PageRequest,
        linked_teams: PageRequest,
        other_teams: PageRequest,
    ) -> ProjectOverview:
        """The project with a page of each list, read together."""
        async with self._db.read() as session:
            return ProjectOverview(
                await _project_or_raise(session, actor, project_id),
                (
                    await list_environments(
                        session, actor=actor, project_id=project_id, page=environments
                    )
                ).map(partial(EnvironmentView.of, public_url=self._public_url)),
                await list_teams(session, actor=actor, page=linked_teams, linked_to=project_id),
                await list_teams(session, actor=actor, page=other_teams, not_linked_to=project_id),
            )

    @overload
    async def create(self, *, actor: TenantActor, name: str, key: None = None) -> ProjectView: ...

    @overload
    async def create(
        self, *, actor: TenantActor, name: str, key: KeyClaim[ProjectView]
    ) -> ProjectView | StoredResponse: ...

    async def create(
        self, *, actor: TenantActor, name: str, key: KeyClaim[ProjectView] | None = None
    ) -> ProjectView | StoredResponse:
        """A new project with the default environments, within the plan's `projects` limit.
        With an Idempotency-Key, a repeat gets the first answer back as a `StoredResponse`."""
        async with self._db.transaction() as session:
            now = self._clock.now()
            work = partial(
                create_project, session, actor=actor, plans=self._plans, name=name, now=now
            )
            return await answer_once(session, key, work, now=now)

    async def rename(
        self, *, actor: TenantActor, project_id: uuid.UUID, name: str | None
    ) -> ProjectView:
        actor.require(EDIT_PROJECTS)
        async with self._db.transaction() as session:
            project = await project_row_or_raise(
                session, tenant_id=actor.tenant_id, project_id=project_id, lock=True
            )
            if name is not None and name != project.name:
                now = self._clock.now()
                project.name, project.updated_at = name, now
                await session.flush()
                await _audit(session, actor, "project.updated", project_id, {"name": name}, now=now)
            return await _view(session, actor, project)

    async def delete(self, *, actor: TenantActor, project_id: uuid.UUID) -> None:
        """Delete the project; its environments and team links go with it (foreign key
        cascade), its client keys stop collecting at commit, and then its experiments and
        collected events go from the tenant's data store."""
        actor.require(EDIT_PROJECTS)
        async with self._db.transaction() as session:
            project = await project_row_or_raise(
                session, tenant_id=actor.tenant_id, project_id=project_id, lock=True
            )
            event = _project_event("project.deleted", actor, project)
            await record_events(session, [event], now=self._clock.now())
            await session.execute(delete(Project).where(Project.id == project.id))
            await bump_access_epoch(session)  # its environments' client keys stop collecting now
        async with self._tenant_data.unit(actor.tenant_id, write=True) as data:
            await cleanup.forget_project(data, project_id)

    async def link_team(
        self, *, actor: TenantActor, project_id: uuid.UUID, team_id: uuid.UUID
    ) -> ProjectView:
        """Link a team of the tenant to the project; linking it again changes nothing."""
        actor.require(EDIT_PROJECTS)
        async with self._db.transaction() as session:
            project = await project_row_or_raise(
                session, tenant_id=actor.tenant_id, project_id=project_id, lock=True
            )
            await team_row_or_raise(session, tenant_id=actor.tenant_id, team_id=team_id, lock=True)
            now = self._clock.now()
            linked = await session.execute(
                insert_on_conflict(session, PROJECT_TEAMS)
                .values(
                    project_id=project_id,
                    team_id=team_id,
                    tenant_id=actor.tenant_id,
                    created_at=now,
                )
                .on_conflict_do_nothing()
            )
            if linked.rowcount:  # type: ignore[attr-defined]
                data = {"team_id": str(team_id)}
                await _audit(session, actor, "project.team_linked", project_id, data, now=now)
            return await _view(session, actor, project)

    async def unlink_team(
        self, *, actor: TenantActor, project_id: uuid.UUID, team_id: uuid.UUID
    ) -> None:
        """Unlink a team; the team stays. Not linked: NotFound `team_link_not_found`."""
        actor.require(EDIT_PROJECTS)
        async with self._db.transaction() as session:
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
                raise NotFound(
                    "That team is not linked to this project.", code="team_link_not_found"
                )
            data = {"team_id": str(team_id)}
            await _audit(
                session, actor, "project.team_unlinked", project_id, data, now=self._clock.now()
            )


async def _project_or_raise(
    session: AsyncSession, actor: TenantActor, project_id: uuid.UUID
) -> ProjectView:
    project = await project_row_or_raise(session, tenant_id=actor.tenant_id, project_id=project_id)
    return await _view(session, actor, project)


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
    return [
        ProjectView(id=p.id, name=p.name, team_ids=team_ids[p.id], created_at=p.created_at)
        for p in projects
    ]


def _project_event(event_type: str, actor: TenantActor, project: Project) -> Event:
    return Event(
        event_type,
        actor.tenant_id,
        actor.user_id,
        {"project_id": str(project.id), "name": project.name},
    )
