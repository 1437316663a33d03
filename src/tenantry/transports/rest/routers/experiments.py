"""A project's experiments and their deployments to its environments (SPEC §10)."""

from __future__ import annotations

import uuid

from fastapi import Response, status

from tenantry.domain.data import experiments
from tenantry.transports.rest.deps import ContainerDep, PageDep, TenantDep
from tenantry.transports.rest.idempotency import CreateOnceDep
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.common import Page
from tenantry.transports.rest.schemas.experiments import (
    DeploymentCreate,
    ExperimentCreate,
    ExperimentRead,
)

router = PrefixedRouter(prefix="/v1/projects/{project_id}/experiments", tags=["experiments"])


@router.get("")
async def read_experiments(
    project_id: uuid.UUID, container: ContainerDep, tenant: TenantDep, page: PageDep
) -> Page[ExperimentRead]:
    found = await experiments.list_experiments(
        container.experiment_stores, actor=tenant.actor, project_id=project_id, page=page
    )
    return Page[ExperimentRead].model_validate(found, from_attributes=True)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ExperimentRead)
async def create_experiment(
    project_id: uuid.UUID,
    body: ExperimentCreate,
    container: ContainerDep,
    tenant: TenantDep,
    once: CreateOnceDep,
) -> Response:
    async def work(experiment_id: uuid.UUID | None) -> ExperimentRead:
        experiment = await experiments.create_experiment(
            container.experiment_stores,
            actor=tenant.actor,
            project_id=project_id,
            name=body.name,
            description=body.description,
            now=container.clock.now(),
            experiment_id=experiment_id,
        )
        return ExperimentRead.model_validate(experiment)

    return await once.run_apart(work, user_id=tenant.principal.user_id, body=body)


@router.get("/{experiment_id}")
async def read_experiment(
    project_id: uuid.UUID, experiment_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> ExperimentRead:
    experiment = await experiments.get_experiment_or_raise(
        container.experiment_stores,
        actor=tenant.actor,
        project_id=project_id,
        experiment_id=experiment_id,
    )
    return ExperimentRead.model_validate(experiment)


@router.post("/{experiment_id}/deploy")
async def deploy_experiment(
    project_id: uuid.UUID,
    experiment_id: uuid.UUID,
    body: DeploymentCreate,
    container: ContainerDep,
    tenant: TenantDep,
) -> ExperimentRead:
    experiment = await experiments.deploy_experiment(
        container.experiment_stores,
        actor=tenant.actor,
        project_id=project_id,
        experiment_id=experiment_id,
        environment_id=body.environment_id,
        now=container.clock.now(),
    )
    return ExperimentRead.model_validate(experiment)
