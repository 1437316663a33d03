"""Tenant data that hangs off core-database objects: when a project or an environment goes, its
experiments, deployments and collected events go from the tenant's store too. Run in a tenant
unit after the core deletion has committed (the two stores share no transaction); if that
step is lost the leftovers are unreachable, since every read goes through the project first."""

from __future__ import annotations

import uuid

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.storage.tenant_models import CollectedEvent, Experiment, ExperimentDeployment


async def forget_project(session: AsyncSession, project_id: uuid.UUID) -> None:
    await session.execute(delete(CollectedEvent).where(CollectedEvent.project_id == project_id))
    # Deployments go with their experiments (ON DELETE CASCADE).
    await session.execute(delete(Experiment).where(Experiment.project_id == project_id))


async def forget_environment(session: AsyncSession, environment_id: uuid.UUID) -> None:
    await session.execute(
        delete(CollectedEvent).where(CollectedEvent.environment_id == environment_id)
    )
    await session.execute(
        delete(ExperimentDeployment).where(ExperimentDeployment.environment_id == environment_id)
    )
