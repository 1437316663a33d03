"""One tenant in the console: its details, members, plan, features and metadata, and where
every change to it lands, refused or done."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable
from functools import partial
from typing import Any

from fastapi import Request, Response

from tenantry.bootstrap import Container
from tenantry.errors import DomainError
from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.web.admin.access import AdminDep
from tenantry.transports.web.admin.pages import admin_page, console_router, feature_names, plan_ids
from tenantry.transports.web.entry import failure
from tenantry.transports.web.forms import redirect_after
from tenantry.transports.web.paging import page_links, requested_page
from tenantry.transports.web.visitors import Post, Visitor

router = console_router()


async def details_page(
    request: Request,
    container: Container,
    visitor: Visitor,
    tenant_id: uuid.UUID,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    """The tenant's page; `context` adds to it (an error, the metadata text as posted)."""
    try:
        details = await container.admin_tenants.details(tenant_id=tenant_id)
    except DomainError as error:
        code, message = failure(error)
        return await admin_page(
            request,
            container,
            visitor,
            "admin_missing.html",
            status=code,
            title="No such tenant",
            message=message,
        )
    members = await container.admin_tenants.members(
        tenant_id=tenant_id, page=requested_page(request, "members")
    )
    return await admin_page(
        request,
        container,
        visitor,
        "admin_tenant.html",
        status=status,
        title=details.name,
        tenant=details,
        members=members.items,
        member_pages=page_links(request, f"/admin/tenants/{tenant_id}", "members", members),
        plans=plan_ids(container),
        feature_names=feature_names(container),
        metadata_text=context.pop("metadata_text", None)
        or json.dumps(details.metadata, indent=2, sort_keys=True),
        **context,
    )


@router.get("/tenants/{tenant_id}")
async def tenant(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, visitor: AdminDep
) -> Response:
    return await details_page(request, container, visitor, tenant_id)


async def after_action(
    request: Request,
    container: Container,
    post: Post,
    tenant_id: uuid.UUID,
    action: Awaitable[None],
    notice: str,
) -> Response:
    """Run one admin action; a refusal shows the domain's message on the details page."""
    return await redirect_after(
        action,
        done=f"/admin/tenants/{tenant_id}?notice={notice}",
        refused=partial(details_page, request, container, post.visitor, tenant_id),
    )
