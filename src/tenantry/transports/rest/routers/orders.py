"""A tenant's orders (SPEC §10 `/v1/orders`), in the tenant's own store."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Response, status

from tenantry.domain.dataplane.orders import LineRequest, OrderSummary, OrderView
from tenantry.transports.rest.deps import ContainerDep, PageDep, TenantDep
from tenantry.transports.rest.idempotency import CreateOnceDep, answered
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.common import Page
from tenantry.transports.rest.schemas.orders import OrderCreate

router = PrefixedRouter(prefix="/v1/orders", tags=["orders"])


@router.get("")
async def read_orders(
    container: ContainerDep, tenant: TenantDep, page: PageDep
) -> Page[OrderSummary]:
    found = await container.orders.list(actor=tenant.actor, page=page)
    return Page[OrderSummary].model_validate(found, from_attributes=True)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrderView)
async def create_order(
    body: OrderCreate, container: ContainerDep, tenant: TenantDep, once: CreateOnceDep
) -> Response:
    key = once.key_claim(body, user_id=tenant.principal.user_id, answer=_render)
    lines = [LineRequest(line.product_id, line.quantity) for line in body.lines]
    return answered(
        await container.orders.create(actor=tenant.actor, lines=lines, key=key), _render
    )


@router.get("/{order_id}")
async def read_order(order_id: uuid.UUID, container: ContainerDep, tenant: TenantDep) -> OrderView:
    return await container.orders.get(actor=tenant.actor, order_id=order_id)


def _render(order: OrderView) -> dict[str, Any]:
    return order.model_dump(mode="json")
