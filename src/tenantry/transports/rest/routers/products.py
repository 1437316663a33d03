"""A tenant's products (SPEC §10 `/v1/products`), in the tenant's own store."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Response, status

from tenantry.domain.dataplane.products import ProductView
from tenantry.transports.rest.deps import ContainerDep, PageDep, TenantDep
from tenantry.transports.rest.idempotency import CreateOnceDep, answered
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.common import Page
from tenantry.transports.rest.schemas.products import ProductCreate, ProductUpdate

router = PrefixedRouter(prefix="/v1/products", tags=["products"])


@router.get("")
async def read_products(
    container: ContainerDep, tenant: TenantDep, page: PageDep
) -> Page[ProductView]:
    found = await container.products.list(actor=tenant.actor, page=page)
    return Page[ProductView].model_validate(found, from_attributes=True)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProductView)
async def create_product(
    body: ProductCreate, container: ContainerDep, tenant: TenantDep, once: CreateOnceDep
) -> Response:
    key = once.key_claim(body, user_id=tenant.principal.user_id, answer=_render)
    created = await container.products.create(
        actor=tenant.actor,
        name=body.name,
        description=body.description,
        price_cents=body.price_cents,
        currency=body.currency,
        key=key,
    )
    return answered(created, _render)


@router.get("/{product_id}")
async def read_product(
    product_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> ProductView:
    return await container.products.get(actor=tenant.actor, product_id=product_id)


@router.patch("/{product_id}")
async def update_product(
    product_id: uuid.UUID, body: ProductUpdate, container: ContainerDep, tenant: TenantDep
) -> ProductView:
    return await container.products.update(
        actor=tenant.actor,
        product_id=product_id,
        named=body.model_dump(exclude_unset=True).keys(),
        name=body.name,
        description=body.description,
        price_cents=body.price_cents,
        currency=body.currency,
    )


@router.delete("/{product_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_product(
    product_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> Response:
    await container.products.delete(actor=tenant.actor, product_id=product_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _render(product: ProductView) -> dict[str, Any]:
    return product.model_dump(mode="json")
