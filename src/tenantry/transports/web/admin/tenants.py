"""The console's home: tenants by name or id, status and plan."""

from __future__ import annotations

from fastapi import Request, Response

from tenantry.domain.provider.admin_search import TenantQuery
from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.web.admin.access import AdminDep
from tenantry.transports.web.admin.pages import (
    LISTED,
    TEXT_LIMIT,
    admin_page,
    console_router,
    plan_ids,
)
from tenantry.transports.web.paging import page_links, requested_page

router = console_router()
STATUSES = ("active", "disabled", "provisioning")


def _choice(value: str | None, allowed: list[str] | tuple[str, ...]) -> str | None:
    return value if value in allowed else None


@router.get("")
async def tenants(request: Request, container: ContainerDep, visitor: AdminDep) -> Response:
    """Tenants by name or id, status and plan; oldest first, a page at a time."""
    params = request.query_params
    plans = plan_ids(container)
    query = TenantQuery(
        q=params.get("q", "")[:TEXT_LIMIT] or None,
        status=_choice(params.get("status"), STATUSES),
        plan=_choice(params.get("plan"), plans),
    )
    found = await container.admin_tenants.search(
        query=query, page=requested_page(request, "cursor", limit=LISTED)
    )
    return await admin_page(
        request,
        container,
        visitor,
        "admin_tenants.html",
        title="Tenants",
        query=query,
        plans=plans,
        statuses=STATUSES,
        items=found.items,
        pages=page_links(request, "/admin", "cursor", found),
    )
