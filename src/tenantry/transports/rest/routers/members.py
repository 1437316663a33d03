"""The tenant's members (SPEC §6): reading them, changing roles, evicting and leaving."""

from __future__ import annotations

import uuid

from fastapi import Response, status

from tenantry.domain.accounts.members import MemberView
from tenantry.transports.rest.deps import ContainerDep, PageDep, TenantDep
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.common import Page
from tenantry.transports.rest.schemas.members import MemberUpdate

router = PrefixedRouter(prefix="/v1/members", tags=["members"])


@router.get("")
async def read_members(
    container: ContainerDep, tenant: TenantDep, page: PageDep
) -> Page[MemberView]:
    found = await container.members.listing(tenant_id=tenant.tenant_id, page=page)
    return Page[MemberView](items=found.items, next_cursor=found.next_cursor)


@router.get("/{user_id}")
async def read_member(user_id: uuid.UUID, container: ContainerDep, tenant: TenantDep) -> MemberView:
    member = await container.members.get(tenant_id=tenant.tenant_id, user_id=user_id)
    return member


@router.patch("/{user_id}")
async def update_member(
    user_id: uuid.UUID, body: MemberUpdate, container: ContainerDep, tenant: TenantDep
) -> MemberView:
    member = await container.members.change_role(
        actor=tenant.actor, user_id=user_id, role=body.role
    )
    return member


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_member(user_id: uuid.UUID, container: ContainerDep, tenant: TenantDep) -> Response:
    await container.members.remove(actor=tenant.actor, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
