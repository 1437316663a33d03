"""A project's experiments and their deployments to its environments (SPEC §10)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Response, status

from tenantry.domain.dataplane.experiments import ExperimentView
from tenantry.transports.rest.deps import ContainerDep, PageDep, TenantDep
from tenantry.transports.rest.idempotency import CreateOnceDep, answered
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.common import Page
from tenantry.transports.rest.schemas.experiments import DeploymentCreate, ExperimentCreate

router = PrefixedRouter(prefix="/v1/projects/{project_id}/experiments", tags=["experiments"])


@router.get("")
async def read_experiments(
    project_id: uuid.UUID, container: ContainerDep, tenant: TenantDep, page: PageDep
) -> Page[ExperimentView]:
    found = await container.experiments.list(actor=tenant.actor, project_id=project_id, page=page)
    return Page[ExperimentView].model_validate(found, from_attributes=True)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ExperimentView)
async def create_experiment(
    project_id: uuid.UUID,
    body: ExperimentCreate,
    container: ContainerDep,
    tenant: TenantDep,
    once: CreateOnceDep,
) -> Response:
    key = once.key_claim(body, user_id=tenant.principal.user_id, answer=_render)
    created = await container.experiments.create(
        actor=tenant.actor,
        project_id=project_id,
        name=body.name,
        description=body.description,
        key=key,
    )
    return answered(created, _render)


@router.get("/{experiment_id}")
async def read_experiment(
    project_id: uuid.UUID, experiment_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> ExperimentView:
    return await container.experiments.get(
        actor=tenant.actor, project_id=project_id, experiment_id=experiment_id
    )


@router.post("/{experiment_id}/deploy")
async def deploy_experiment(
    project_id: uuid.UUID,
    experiment_id: uuid.UUID,
    body: DeploymentCreate,
    container: ContainerDep,
    tenant: TenantDep,
) -> ExperimentView:
    return await container.experiments.deploy(
        actor=tenant.actor,
        project_id=project_id,
        experiment_id=experiment_id,
        environment_id=body.environment_id,
    )


def _render(experiment: ExperimentView) -> dict[str, Any]:
    return experiment.model_dump(mode="json")
