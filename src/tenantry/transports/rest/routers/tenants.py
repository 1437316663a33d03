"""The caller's tenants (SPEC §6 `/v1/tenants`)."""

from __future__ import annotations

from typing import Any

from fastapi import Response, status

from tenantry.domain.accounts.users import MembershipView
from tenantry.transports.rest.deps import ContainerDep, PageDep, PrincipalDep
from tenantry.transports.rest.idempotency import CreateOnceDep, answered
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.accounts import TenantCreate, TenantSummary
from tenantry.transports.rest.schemas.common import Page

router = PrefixedRouter(prefix="/v1/tenants", tags=["tenants"])


def _summary(membership: MembershipView) -> TenantSummary:
    return TenantSummary(
        id=membership.tenant_id,
        name=membership.tenant_name,
        kind=membership.tenant_kind,
        status=membership.tenant_status,
        plan=membership.plan,
        role=membership.role,
    )


def _render(membership: MembershipView) -> Any:
    return _summary(membership).model_dump(mode="json")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TenantSummary)
async def create_tenant(
    body: TenantCreate, container: ContainerDep, principal: PrincipalDep, once: CreateOnceDep
) -> Response:
    key = once.key_claim(body, user_id=principal.user_id, answer=_render)
    created = await container.tenants.create_organization(
        owner_id=principal.user_id, name=body.name.strip() or body.name, key=key
    )
    return answered(created, _render)


@router.get("")
async def list_tenants(
    container: ContainerDep, principal: PrincipalDep, page: PageDep
) -> Page[TenantSummary]:
    found = await container.tenants.of_user(user_id=principal.user_id, page=page)
    items = [_summary(membership) for membership in found.items]
    return Page[TenantSummary](items=items, next_cursor=found.next_cursor)
