"""A tenant's products (SPEC §10 `/v1/products`): viewers read, editors write. The session is a
tenant unit of work (`units.py`), so nothing here names the tenant: another tenant's product
is simply not there, and reads as 404."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.accounts.roles import TenantActor
from tenantry.domain.pagination import Page, PageRequest, make_page, paginate
from tenantry.errors import NotFound
from tenantry.storage.tenant_models import Product

MAX_PRICE_CENTS = 100_000_000


async def list_products(
    session: AsyncSession, *, actor: TenantActor, page: PageRequest
) -> Page[Product]:
    actor.require("viewer")
    statement = paginate(select(Product), page, created_at=Product.created_at, row_id=Product.id)
    rows = list(await session.scalars(statement))
    return make_page(rows, page, key=lambda product: (product.created_at, product.id))


async def get_product(session: AsyncSession, *, product_id: uuid.UUID) -> Product | None:
    product: Product | None = await session.scalar(select(Product).where(Product.id == product_id))
    return product


async def get_product_or_raise(
    session: AsyncSession, *, actor: TenantActor, product_id: uuid.UUID
) -> Product:
    actor.require("viewer")
    product = await get_product(session, product_id=product_id)
    if product is None:
        raise NotFound("No such product in this tenant.", code="product_not_found")
    return product


async def create_product(
    session: AsyncSession,
    *,
    actor: TenantActor,
    name: str,
    description: str,
    price_cents: int,
    currency: str,
    now: datetime,
    product_id: uuid.UUID | None = None,
) -> Product:
    """A new product; given `product_id` (a retried request's), the one made with it if any."""
    actor.require("editor")
    if product_id is not None and (made := await get_product(session, product_id=product_id)):
        return made
    product = Product(
        id=product_id or uuid.uuid4(),
        name=name,
        description=description,
        price_cents=price_cents,
        currency=currency,
        created_at=now,
        updated_at=now,
    )
    session.add(product)
    await session.flush()
    return product


async def update_product(
    session: AsyncSession,
    *,
    actor: TenantActor,
    product_id: uuid.UUID,
    name: str | None = None,
    description: str | None = None,
    price_cents: int | None = None,
    currency: str | None = None,
    now: datetime,
) -> Product:
    """Change the given fields (None: keep); orders placed before keep their copied prices."""
    actor.require("editor")
    product = await get_product_or_raise(session, actor=actor, product_id=product_id)
    changes = {
        "name": name,
        "description": description,
        "price_cents": price_cents,
        "currency": currency,
    }
    changed = False
    for field, value in changes.items():
        if value is not None and value != getattr(product, field):
            setattr(product, field, value)
            changed = True
    if changed:
        product.updated_at = now
        await session.flush()
    return product


async def delete_product(
    session: AsyncSession, *, actor: TenantActor, product_id: uuid.UUID
) -> None:
    """Delete the product; order lines keep their copy of its name and price."""
    actor.require("editor")
    product = await get_product_or_raise(session, actor=actor, product_id=product_id)
    await session.delete(product)
    await session.flush()
