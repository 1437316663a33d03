"""The plan catalog (SPEC §6 `GET /v1/plans`): public, like a pricing page."""

from __future__ import annotations

from tenantry.domain.plans.catalog import Plan
from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.common import Page

router = PrefixedRouter(prefix="/v1/plans", tags=["plans"])


@router.get("")
async def list_plans(container: ContainerDep) -> Page[Plan]:
    return Page[Plan](items=container.plans.all(), next_cursor=None)
