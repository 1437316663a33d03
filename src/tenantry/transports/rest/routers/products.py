"""A tenant's products (SPEC §10 `/v1/products`), in the tenant's own store."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Response, status

from tenantry.bootstrap import Container
from tenantry.domain.audit import record_audit_apart
from tenantry.domain.data import products
from tenantry.transports.rest.deps import ContainerDep, PageDep, TenantContext, TenantDep
from tenantry.transports.rest.idempotency import CreateOnceDep
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.common import Page
from tenantry.transports.rest.schemas.products import ProductCreate, ProductRead, ProductUpdate

router = PrefixedRouter(prefix="/v1/products", tags=["products"])


@router.get("")
async def read_products(
    container: ContainerDep, tenant: TenantDep, page: PageDep
) -> Page[ProductRead]:
    async with container.tenant_data.unit(tenant.tenant_id, write=False) as session:
        found = await products.list_products(session, actor=tenant.actor, page=page)
    return Page[ProductRead].model_validate(found, from_attributes=True)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProductRead)
async def create_product(
    body: ProductCreate, container: ContainerDep, tenant: TenantDep, once: CreateOnceDep
) -> Response:
    async def work(product_id: uuid.UUID | None) -> ProductRead:
        async with container.tenant_data.unit(tenant.tenant_id, write=True) as session:
            product = await products.create_product(
                session,
                actor=tenant.actor,
                name=body.name,
                description=body.description,
                price_cents=body.price_cents,
                currency=body.currency,
                now=container.clock.now(),
                product_id=product_id,
            )
            created = ProductRead.model_validate(product)
        await _audit(container, tenant, "product.created", created.id)
        return created

    return await once.run_apart(work, user_id=tenant.principal.user_id, body=body)


@router.get("/{product_id}")
async def read_product(
    product_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> ProductRead:
    async with container.tenant_data.unit(tenant.tenant_id, write=False) as session:
        product = await products.get_product_or_raise(
            session, actor=tenant.actor, product_id=product_id
        )
        return ProductRead.model_validate(product)


@router.patch("/{product_id}")
async def update_product(
    product_id: uuid.UUID, body: ProductUpdate, container: ContainerDep, tenant: TenantDep
) -> ProductRead:
    async with container.tenant_data.unit(tenant.tenant_id, write=True) as session:
        product = await products.update_product(
            session,
            actor=tenant.actor,
            product_id=product_id,
            name=body.name,
            description=body.description,
            price_cents=body.price_cents,
            currency=body.currency,
            now=container.clock.now(),
        )
        updated = ProductRead.model_validate(product)
    fields = sorted(body.model_dump(exclude_unset=True))
    await _audit(container, tenant, "product.updated", product_id, {"fields": fields})
    return updated


@router.delete("/{product_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_product(
    product_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> Response:
    async with container.tenant_data.unit(tenant.tenant_id, write=True) as session:
        await products.delete_product(session, actor=tenant.actor, product_id=product_id)
    await _audit(container, tenant, "product.deleted", product_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _audit(
    container: Container,
    tenant: TenantContext,
    action: str,
    product_id: uuid.UUID,
    data: dict[str, Any] | None = None,
) -> None:
    """Products live in the tenant's store: audited in the core database once committed."""
    await record_audit_apart(
        container.db,
        action=action,
        tenant_id=tenant.tenant_id,
        actor_id=tenant.principal.user_id,
        target_type="product",
        target_id=str(product_id),
        data=data,
        now=container.clock.now(),
    )
