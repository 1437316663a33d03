"""The plan catalog (SPEC §6 `GET /v1/plans`): public, like a pricing page."""

from __future__ import annotations

from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.common import Page
from tenantry.transports.rest.schemas.tenant import PlanRead

router = PrefixedRouter(prefix="/v1/plans", tags=["plans"])


@router.get("")
async def list_plans(container: ContainerDep) -> Page[PlanRead]:
    items = [PlanRead.model_validate(plan) for plan in container.plans.all()]
    return Page[PlanRead](items=items, next_cursor=None)
