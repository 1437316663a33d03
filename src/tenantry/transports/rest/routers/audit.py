"""The audit log (SPEC §9): `GET /v1/audit-log` for a tenant's admins and owners, and
`GET /v1/admin/audit-log` over every tenant (and the user pool) for platform admins."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Query
from pydantic import Field

from tenantry.domain.audit import AuditEntryView, AuditQuery
from tenantry.transports.rest.deps import ContainerDep, PageDep, PlatformAdminDep, TenantDep
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.common import BoundedDatetime, Page

router = PrefixedRouter(prefix="/v1/audit-log", tags=["audit"])
admin_router = PrefixedRouter(prefix="/v1/admin/audit-log", tags=["admin"])
Action = Annotated[str, Field(max_length=64)]


async def audit_query(
    action: Annotated[
        list[Action] | None, Query(max_length=20, description="any of these actions")
    ] = None,
    actor_id: uuid.UUID | None = None,
    target_id: Annotated[str | None, Query(max_length=100)] = None,
    since: Annotated[BoundedDatetime | None, Query(description="RFC 3339, inclusive")] = None,
    until: Annotated[BoundedDatetime | None, Query(description="RFC 3339, exclusive")] = None,
) -> AuditQuery:
    return AuditQuery(
        actions=tuple(action or ()),
        actor_id=actor_id,
        target_id=target_id,
        since=since,
        until=until,
    )


AuditQueryDep = Annotated[AuditQuery, Depends(audit_query)]


@router.get("")
async def read_audit_log(
    container: ContainerDep, tenant: TenantDep, query: AuditQueryDep, page: PageDep
) -> Page[AuditEntryView]:
    """The tenant's entries, newest first."""
    found = await container.audit_log.of_tenant(actor=tenant.actor, query=query, page=page)
    return Page[AuditEntryView].model_validate(found, from_attributes=True)


@admin_router.get("")
async def read_platform_audit_log(
    container: ContainerDep,
    _admin: PlatformAdminDep,
    query: AuditQueryDep,
    page: PageDep,
    tenant_id: uuid.UUID | None = None,
) -> Page[AuditEntryView]:
    """Every entry (or one tenant's), newest first; user-pool entries have no tenant."""
    found = await container.audit_log.of_platform(
        query=replace(query, tenant_id=tenant_id), page=page
    )
    return Page[AuditEntryView].model_validate(found, from_attributes=True)
