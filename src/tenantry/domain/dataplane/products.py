"""A tenant's products (SPEC §10 `/v1/products`): viewers read, editors write. The session is a
tenant unit of work (`units.py`), so nothing here names the tenant: another tenant's product
is simply not there, and reads as NotFound `product_not_found`."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.accounts.roles import TenantActor
from tenantry.domain.audit import record_audit_apart
from tenantry.domain.dataplane.units import TenantData
from tenantry.domain.idempotency import KeyClaim, StoredResponse, answer_apart
from tenantry.domain.pagination import Page, PageRequest, make_page, paginate
from tenantry.domain.readmodel import ReadModel
from tenantry.errors import NotFound
from tenantry.storage.database import Database
from tenantry.storage.tenant_models import Product

MAX_PRICE_CENTS = 100_000_000


class ProductView(ReadModel):
    id: uuid.UUID
    name: str
    description: str
    price_cents: int
    currency: str
    created_at: datetime
    updated_at: datetime


class Products:
    """Products live in the tenant's store; their audit entries go to the core database once
    the change is committed (the two stores share no transaction)."""

    def __init__(self, *, db: Database, clock: Clock, tenant_data: TenantData) -> None:
        self._db = db
        self._clock = clock
        self._tenant_data = tenant_data

    async def list(self, *, actor: TenantActor, page: PageRequest) -> Page[ProductView]:
        async with self._tenant_data.unit(actor.tenant_id, write=False) as session:
            actor.require("viewer")
            statement = paginate(
                select(Product), page, created_at=Product.created_at, row_id=Product.id
            )
            rows = list(await session.scalars(statement))
        found = make_page(rows, page, key=lambda product: (product.created_at, product.id))
        return found.map(ProductView.model_validate)

    async def get(self, *, actor: TenantActor, product_id: uuid.UUID) -> ProductView:
        async with self._tenant_data.unit(actor.tenant_id, write=False) as session:
            return ProductView.model_validate(await _product_or_raise(session, actor, product_id))

    async def create(
        self,
        *,
        actor: TenantActor,
        name: str,
        description: str,
        price_cents: int,
        currency: str,
        key: KeyClaim[ProductView] | None = None,
    ) -> ProductView | StoredResponse:
        """A new product. With an Idempotency-Key, a repeat gets the first answer back."""

        async def work(product_id: uuid.UUID | None) -> ProductView:
            async with self._tenant_data.unit(actor.tenant_id, write=True) as session:
                actor.require("editor")
                product = await _made(session, product_id) or await self._insert(
                    session,
                    Product(
                        id=product_id or uuid.uuid4(),
                        name=name,
                        description=description,
                        price_cents=price_cents,
                        currency=currency,
                    ),
                )
            await self._audit(actor, "product.created", product.id)
            return ProductView.model_validate(product)

        return await answer_apart(self._db, key, work, clock=self._clock)

    async def _insert(self, session: AsyncSession, product: Product) -> Product:
        product.created_at = product.updated_at = self._clock.now()
        session.add(product)
        await session.flush()
        return product

    async def update(
        self,
        *,
        actor: TenantActor,
        product_id: uuid.UUID,
        named: Collection[str],
        name: str | None = None,
        description: str | None = None,
        price_cents: int | None = None,
        currency: str | None = None,
    ) -> ProductView:
        """Change the given fields (None: keep); orders placed before keep their copied
        prices. `named`: the fields the request named, null or not, which the audit entry
        lists."""
        changes = {
            "name": name,
            "description": description,
            "price_cents": price_cents,
            "currency": currency,
        }
        async with self._tenant_data.unit(actor.tenant_id, write=True) as session:
            actor.require("editor")
            product = await _product_or_raise(session, actor, product_id)
            if _apply(product, changes):
                product.updated_at = self._clock.now()
                await session.flush()
        await self._audit(actor, "product.updated", product_id, {"fields": sorted(named)})
        return ProductView.model_validate(product)

    async def delete(self, *, actor: TenantActor, product_id: uuid.UUID) -> None:
        """Delete the product; order lines keep their copy of its name and price."""
        async with self._tenant_data.unit(actor.tenant_id, write=True) as session:
            actor.require("editor")
            product = await _product_or_raise(session, actor, product_id)
            await session.delete(product)
            await session.flush()
        await self._audit(actor, "product.deleted", product_id)

    async def _audit(
        self,
        actor: TenantActor,
        action: str,
        product_id: uuid.UUID,
        data: dict[str, Any] | None = None,
    ) -> None:
        await record_audit_apart(
            self._db,
            action=action,
            tenant_id=actor.tenant_id,
            actor_id=actor.user_id,
            target_type="product",
            target_id=str(product_id),
            data=data,
            now=self._clock.now(),
        )


def _apply(product: Product, changes: dict[str, Any]) -> bool:
    """Set the given values that differ; whether any did."""
    changed = False
    for field, value in changes.items():
        if value is not None and value != getattr(product, field):
            setattr(product, field, value)
            changed = True
    return changed


async def _made(session: AsyncSession, product_id: uuid.UUID | None) -> Product | None:
    """The product a retried request (dead after its commit) made with `product_id`."""
    if product_id is None:
        return None
    return await _product(session, product_id)


async def _product(session: AsyncSession, product_id: uuid.UUID) -> Product | None:
    product: Product | None = await session.scalar(select(Product).where(Product.id == product_id))
    return product


async def _product_or_raise(
    session: AsyncSession, actor: TenantActor, product_id: uuid.UUID
) -> Product:
    actor.require("viewer")
    product = await _product(session, product_id)
    if product is None:
        raise NotFound("No such product in this tenant.", code="product_not_found")
    return product
