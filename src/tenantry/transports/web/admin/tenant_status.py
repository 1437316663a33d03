"""Disabling and enabling a tenant from the console."""

from __future__ import annotations

import uuid

from fastapi import Request, Response

from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.web.admin.access import AdminPostDep
from tenantry.transports.web.admin.pages import console_router
from tenantry.transports.web.admin.tenant_page import after_action
from tenantry.transports.web.visitors import field

router = console_router()
REASON_LIMIT = 500


@router.post("/tenants/{tenant_id}/disable")
async def disable(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, post: AdminPostDep
) -> Response:
    """Lock every member out from their next request on; the data stays."""
    reason = field(post.form, "reason", limit=REASON_LIMIT).strip() or None
    action = container.admin_tenants.disable(
        tenant_id=tenant_id, reason=reason, admin_id=post.visitor.principal.user_id
    )
    return await after_action(request, container, post, tenant_id, action, "admin_tenant_disabled")


@router.post("/tenants/{tenant_id}/enable")
async def enable(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, post: AdminPostDep
) -> Response:
    action = container.admin_tenants.enable(
        tenant_id=tenant_id, admin_id=post.visitor.principal.user_id
    )
    return await after_action(request, container, post, tenant_id, action, "admin_tenant_enabled")
