"""A tenant's orders (SPEC §10 `/v1/orders`): viewers read, editors place them. Prices and
totals are worked out here from the tenant's products, never taken from the caller; each line
keeps a copy of its product's name and unit price."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.accounts.roles import TenantActor
from tenantry.domain.audit import record_audit_apart
from tenantry.domain.dataplane.units import TenantData
from tenantry.domain.idempotency import KeyClaim, StoredResponse, answer_apart
from tenantry.domain.pagination import Page, PageRequest, make_page, paginate
from tenantry.domain.readmodel import ReadModel
from tenantry.errors import InvalidInput, NotFound
from tenantry.storage.database import Database
from tenantry.storage.tenant_models import Order, OrderLine, Product

MAX_LINES = 100
MAX_QUANTITY = 10_000
# `orders.total_cents` is a 32-bit INTEGER column on PostgreSQL.


@dataclass(frozen=True)
class LineRequest:
    product_id: uuid.UUID
    quantity: int


class OrderLineView(ReadModel):
    line_no: int
    product_id: uuid.UUID
    product_name: str
    unit_price_cents: int
    quantity: int
    total_cents: int


class OrderSummary(ReadModel):
    """An order in a list, without its lines."""

    id: uuid.UUID
    placed_by: uuid.UUID
    total_cents: int
    currency: str
    created_at: datetime


class OrderView(OrderSummary):
    lines: list[OrderLineView]


class Orders:
    """Orders live in the tenant's store; placing one is audited in the core database once it
    is committed (the two stores share no transaction)."""

    def __init__(self, *, db: Database, clock: Clock, tenant_data: TenantData) -> None:
        self._db = db
        self._clock = clock
        self._tenant_data = tenant_data

    async def list(self, *, actor: TenantActor, page: PageRequest) -> Page[OrderSummary]:
        """Orders without their lines; `get` reads one with them."""
        async with self._tenant_data.unit(actor.tenant_id, write=False) as session:
            actor.require("viewer")
            statement = paginate(select(Order), page, created_at=Order.created_at, row_id=Order.id)
            rows = list(await session.scalars(statement))
        found = make_page(rows, page, key=lambda order: (order.created_at, order.id))
        return found.map(OrderSummary.model_validate)

    async def get(self, *, actor: TenantActor, order_id: uuid.UUID) -> OrderView:
        async with self._tenant_data.unit(actor.tenant_id, write=False) as session:
            actor.require("viewer")
            order = await _order_view(session, order_id)
        if order is None:
            raise NotFound("No such order in this tenant.", code="order_not_found")
        return order

    async def create(
        self,
        *,
        actor: TenantActor,
        lines: Sequence[LineRequest],
        key: KeyClaim[OrderView] | None = None,
    ) -> OrderView | StoredResponse:
        """Place an order of this tenant's products, all priced in one currency. With an
        Idempotency-Key, a repeat gets the first answer back."""

        async def work(order_id: uuid.UUID | None) -> OrderView:
            async with self._tenant_data.unit(actor.tenant_id, write=True) as session:
                actor.require("editor")
                order = await _placed(session, order_id) or await self._place(
                    session, actor, lines, order_id
                )
            await record_audit_apart(
                self._db,
                action="order.created",
                tenant_id=actor.tenant_id,
                actor_id=actor.user_id,
                target_type="order",
                target_id=str(order.id),
                data={"lines": len(lines)},
                now=self._clock.now(),
            )
            return order

        return await answer_apart(self._db, key, work, clock=self._clock)

    async def _place(
        self,
        session: AsyncSession,
        actor: TenantActor,
        lines: Sequence[LineRequest],
        order_id: uuid.UUID | None,
    ) -> OrderView:
        if not 0 < len(lines) <= MAX_LINES:
            raise InvalidInput(f"An order has 1 to {MAX_LINES} lines.", code="invalid_order_lines")
        products = await _products_of(session, [line.product_id for line in lines])
        currencies = {product.currency for product in products.values()}
        if len(currencies) > 1:
            raise InvalidInput(
                "All products of an order must be priced in one currency.", code="mixed_currency"
            )
        order_lines = [
            OrderLine(
                line_no=number,
                product_id=line.product_id,
                product_name=products[line.product_id].name,
                unit_price_cents=products[line.product_id].price_cents,
                quantity=line.quantity,
            )
            for number, line in enumerate(lines, start=1)
        ]
        order = Order(
            id=order_id or uuid.uuid4(),
            placed_by=actor.user_id,
            total_cents=sum(line.total_cents for line in order_lines),
            currency=currencies.pop(),
            created_at=self._clock.now(),
        )
        session.add(order)
        await session.flush()  # the lines' foreign key needs the order first
        for line in order_lines:
            line.order_id = order.id
        session.add_all(order_lines)
        await session.flush()
        return _view(order, order_lines)


async def _placed(session: AsyncSession, order_id: uuid.UUID | None) -> OrderView | None:
    """The order a retried request (dead after its commit) placed with `order_id`."""
    return None if order_id is None else await _order_view(session, order_id)


async def _order_view(session: AsyncSession, order_id: uuid.UUID) -> OrderView | None:
    order = await session.scalar(select(Order).where(Order.id == order_id))
    if order is None:
        return None
    lines = await session.scalars(
        select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.line_no)
    )
    return _view(order, list(lines))


async def _products_of(
    session: AsyncSession, product_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Product]:
    """The products by id; any id that is not a product of this tenant is InvalidInput
    `unknown_product`."""
    found = await session.scalars(select(Product).where(Product.id.in_(set(product_ids))))
    products = {product.id: product for product in found}
    missing = [str(product_id) for product_id in product_ids if product_id not in products]
    if missing:
        raise InvalidInput(
            f"No such product in this tenant: {', '.join(dict.fromkeys(missing))}.",
            code="unknown_product",
        )
    return products


def _view(order: Order, lines: list[OrderLine]) -> OrderView:
    return OrderView(
        id=order.id,
        placed_by=order.placed_by,
        total_cents=order.total_cents,
        currency=order.currency,
        created_at=order.created_at,
        lines=[OrderLineView.model_validate(line) for line in lines],
    )
