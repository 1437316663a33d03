"""A tenant's orders (SPEC §10 `/v1/orders`), in the tenant's own store."""

from __future__ import annotations

import uuid

from fastapi import Response, status

from tenantry.domain.audit import record_audit_apart
from tenantry.domain.data import orders
from tenantry.transports.rest.deps import ContainerDep, PageDep, TenantDep
from tenantry.transports.rest.idempotency import CreateOnceDep
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.common import Page
from tenantry.transports.rest.schemas.orders import OrderCreate, OrderRead, OrderSummaryRead

router = PrefixedRouter(prefix="/v1/orders", tags=["orders"])


@router.get("")
async def read_orders(
    container: ContainerDep, tenant: TenantDep, page: PageDep
) -> Page[OrderSummaryRead]:
    async with container.tenant_data.unit(tenant.tenant_id, write=False) as session:
        found = await orders.list_orders(session, actor=tenant.actor, page=page)
    return Page[OrderSummaryRead].model_validate(found, from_attributes=True)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OrderRead)
async def create_order(
    body: OrderCreate, container: ContainerDep, tenant: TenantDep, once: CreateOnceDep
) -> Response:
    lines = [orders.LineRequest(line.product_id, line.quantity) for line in body.lines]

    async def work(order_id: uuid.UUID | None) -> OrderRead:
        async with container.tenant_data.unit(tenant.tenant_id, write=True) as session:
            order = await orders.create_order(
                session,
                actor=tenant.actor,
                lines=lines,
                now=container.clock.now(),
                order_id=order_id,
            )
        created = OrderRead.model_validate(order)
        # Orders live in the tenant's store: audited in the core database once committed.
        await record_audit_apart(
            container.db,
            action="order.created",
            tenant_id=tenant.tenant_id,
            actor_id=tenant.principal.user_id,
            target_type="order",
            target_id=str(created.id),
            data={"lines": len(lines)},
            now=container.clock.now(),
        )
        return created

    return await once.run_apart(work, user_id=tenant.principal.user_id, body=body)


@router.get("/{order_id}")
async def read_order(order_id: uuid.UUID, container: ContainerDep, tenant: TenantDep) -> OrderRead:
    async with container.tenant_data.unit(tenant.tenant_id, write=False) as session:
        order = await orders.get_order_or_raise(session, actor=tenant.actor, order_id=order_id)
    return OrderRead.model_validate(order)
