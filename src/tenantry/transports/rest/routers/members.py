"""The tenant's members (SPEC §6): reading them, changing roles, evicting and leaving."""

from __future__ import annotations

import uuid

from fastapi import Response, status

from tenantry.domain.accounts.members import (
    change_role,
    get_member_or_raise,
    list_members,
    remove_member,
)
from tenantry.transports.rest.deps import ContainerDep, PageDep, TenantDep
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.common import Page
from tenantry.transports.rest.schemas.members import MemberRead, MemberUpdate

router = PrefixedRouter(prefix="/v1/members", tags=["members"])


@router.get("")
async def read_members(
    container: ContainerDep, tenant: TenantDep, page: PageDep
) -> Page[MemberRead]:
    async with container.db.read() as session:
        found = await list_members(session, tenant_id=tenant.tenant_id, page=page)
    items = [MemberRead.model_validate(member) for member in found.items]
    return Page[MemberRead](items=items, next_cursor=found.next_cursor)


@router.get("/{user_id}")
async def read_member(user_id: uuid.UUID, container: ContainerDep, tenant: TenantDep) -> MemberRead:
    async with container.db.read() as session:
        member = await get_member_or_raise(session, tenant_id=tenant.tenant_id, user_id=user_id)
    return MemberRead.model_validate(member)


@router.patch("/{user_id}")
async def update_member(
    user_id: uuid.UUID, body: MemberUpdate, container: ContainerDep, tenant: TenantDep
) -> MemberRead:
    async with container.db.transaction() as session:
        member = await change_role(
            session,
            actor=tenant.actor,
            user_id=user_id,
            role=body.role,
            now=container.clock.now(),
        )
    return MemberRead.model_validate(member)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_member(user_id: uuid.UUID, container: ContainerDep, tenant: TenantDep) -> Response:
    async with container.db.transaction() as session:
        await remove_member(session, actor=tenant.actor, user_id=user_id, now=container.clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
