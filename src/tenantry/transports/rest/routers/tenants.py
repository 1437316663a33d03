"""The caller's tenants (SPEC §6 `/v1/tenants`)."""

from __future__ import annotations

from fastapi import Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.accounts.tenants import create_organization
from tenantry.domain.accounts.users import page_memberships
from tenantry.transports.rest.deps import ContainerDep, PageDep, PrincipalDep
from tenantry.transports.rest.idempotency import CreateOnceDep
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.accounts import TenantCreate, TenantSummary
from tenantry.transports.rest.schemas.common import Page

router = PrefixedRouter(prefix="/v1/tenants", tags=["tenants"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TenantSummary)
async def create_tenant(
    body: TenantCreate, container: ContainerDep, principal: PrincipalDep, once: CreateOnceDep
) -> Response:
    async def work(session: AsyncSession) -> TenantSummary:
        tenant = await create_organization(
            session,
            owner_id=principal.user_id,
            name=body.name.strip() or body.name,
            now=container.clock.now(),
        )
        return TenantSummary(
            id=tenant.id,
            name=tenant.name,
            kind=tenant.kind,
            status=tenant.status,
            plan=tenant.plan,
            role="owner",
        )

    return await once.run(work, user_id=principal.user_id, body=body)


@router.get("")
async def list_tenants(
    container: ContainerDep, principal: PrincipalDep, page: PageDep
) -> Page[TenantSummary]:
    async with container.db.read() as session:
        found = await page_memberships(session, user_id=principal.user_id, page=page)
    items = [
        TenantSummary(
            id=m.tenant_id,
            name=m.tenant_name,
            kind=m.tenant_kind,
            status=m.tenant_status,
            plan=m.plan,
            role=m.role,
        )
        for m in found.items
    ]
    return Page[TenantSummary](items=items, next_cursor=found.next_cursor)
