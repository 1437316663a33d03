"""The onboarding wizard (SPEC §11): what its page shows, and its steps, each done in one
transaction with the step's mark in the tenant's progress (`onboarding_progress`), so a step
is never left done but unmarked. Admins and owners only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.accounts.capabilities import RUN_ONBOARDING
from tenantry.domain.accounts.environments import list_environments
from tenantry.domain.accounts.onboarding_progress import (
    STEPS,
    State,
    first_open,
    mark_step,
    progress,
)
from tenantry.domain.accounts.projects import ProjectView, create_project, list_projects
from tenantry.domain.accounts.roles import TenantActor
from tenantry.domain.accounts.tenants import read_tenant, update_tenant
from tenantry.domain.pagination import PageRequest
from tenantry.domain.plans.catalog import PlanCatalog
from tenantry.storage.database import Database
from tenantry.storage.models import Environment

# The projects a first experiment can go in: a tenant on its first steps has a handful.
PROJECTS_OFFERED = 100
ENVIRONMENTS_SEARCHED = 50


@dataclass(frozen=True)
class FirstEnvironment:
    """Where the snippet of the first step comes from."""

    project_name: str
    environment: Environment


@dataclass(frozen=True)
class WizardView:
    """The progress and the tenant profile, the step to show (the one asked for, else the
    first open one; None when all are closed), and what that step needs: the first
    environment for `snippet`, the projects to choose from for `project`."""

    states: dict[str, State]
    profile: dict[str, Any]
    step: str | None
    first_environment: FirstEnvironment | None
    project_choices: list[ProjectView]


class OnboardingWizard:
    """The wizard service: its page's read, and one transaction per step."""

    def __init__(self, *, db: Database, clock: Clock, plans: PlanCatalog) -> None:
        self._db = db
        self._clock = clock
        self._plans = plans

    async def view(self, *, actor: TenantActor, step: str | None) -> WizardView:
        """What the wizard shows at `step`, read together (admins and owners)."""
        actor.require(RUN_ONBOARDING)
        async with self._db.read() as session:
            states = await progress(session, tenant_id=actor.tenant_id)
            tenant = await read_tenant(session, actor.tenant_id, plans=self._plans)
            if step not in STEPS:
                step = first_open(states)
            first = await _first_environment(session, actor) if step == "snippet" else None
            choices = await _project_choices(session, actor) if step == "project" else []
        return WizardView(states, tenant.profile, step, first, choices)

    async def close_step(self, *, actor: TenantActor, step: str, state: State) -> dict[str, State]:
        """Mark a step `done` or `skipped` (a done step stays done); the progress after it."""
        async with self._db.transaction() as session:
            now = self._clock.now()
            return await mark_step(session, actor=actor, step=step, state=state, now=now)

    async def save_company(
        self, *, actor: TenantActor, profile: dict[str, Any]
    ) -> dict[str, State]:
        """The company step: `profile` merged into the tenant's, as `update_tenant` does."""
        async with self._db.transaction() as session:
            now = self._clock.now()
            await update_tenant(session, actor=actor, now=now, profile=profile)
            return await mark_step(session, actor=actor, step="company", state="done", now=now)

    async def create_project(self, *, actor: TenantActor, name: str) -> dict[str, State]:
        """The project step: a project with the default environments, as `Projects.create`."""
        async with self._db.transaction() as session:
            now = self._clock.now()
            await create_project(session, actor=actor, plans=self._plans, name=name, now=now)
            return await mark_step(session, actor=actor, step="project", state="done", now=now)


async def _first_environment(session: AsyncSession, actor: TenantActor) -> FirstEnvironment | None:
    """The oldest project's development environment (its first environment when it has none
    by that slug), or None."""
    found = await list_projects(session, actor=actor, page=PageRequest(limit=1))
    if not found.items:
        return None
    project = found.items[0]
    envs = await list_environments(
        session, actor=actor, project_id=project.id, page=PageRequest(ENVIRONMENTS_SEARCHED)
    )
    if not envs.items:
        return None
    env = next((e for e in envs.items if e.slug == "development"), envs.items[0])
    return FirstEnvironment(project.name, env)


async def _project_choices(session: AsyncSession, actor: TenantActor) -> list[ProjectView]:
    found = await list_projects(session, actor=actor, page=PageRequest(PROJECTS_OFFERED))
    return found.items
