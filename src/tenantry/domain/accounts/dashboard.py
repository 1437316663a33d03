"""A tenant's dashboard (SPEC §11): its first projects and, for admins and owners, the
onboarding checklist."""

from __future__ import annotations

from dataclasses import dataclass

from tenantry.domain.accounts.onboarding_progress import State, progress
from tenantry.domain.accounts.projects import ProjectView, list_projects
from tenantry.domain.accounts.roles import TenantActor, outranks_or_equals
from tenantry.domain.pagination import Page, PageRequest
from tenantry.storage.database import Database


@dataclass(frozen=True)
class DashboardView:
    projects: Page[ProjectView]
    # Admins and owners only, as the onboarding wizard; None for everyone else.
    checklist: dict[str, State] | None


class Dashboards:
    def __init__(self, *, db: Database) -> None:
        self._db = db

    async def of(self, *, actor: TenantActor, projects: int) -> DashboardView:
        """The actor's tenant as of one read: its oldest `projects` projects (whether there
        are more shows in `next_cursor`), and the checklist if the actor runs onboarding."""
        async with self._db.read() as session:
            found = await list_projects(
                session, actor=actor, page=PageRequest(limit=projects, cursor=None)
            )
            checklist = (
                await progress(session, tenant_id=actor.tenant_id)
                if outranks_or_equals(actor.role, "admin")
                else None
            )
        return DashboardView(projects=found, checklist=checklist)
