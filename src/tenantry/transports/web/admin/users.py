"""Finding users in the console."""

from __future__ import annotations

from fastapi import Request, Response

from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.web.admin.access import AdminDep
from tenantry.transports.web.admin.pages import LISTED, TEXT_LIMIT, admin_page, console_router
from tenantry.transports.web.paging import page_links, requested_page

router = console_router()


@router.get("/users")
async def users(request: Request, container: ContainerDep, visitor: AdminDep) -> Response:
    """Users whose email or name contains `q`, a page at a time."""
    q = request.query_params.get("q", "")[:TEXT_LIMIT]
    found = await container.admin_users.search(
        q=q or None, page=requested_page(request, "cursor", limit=LISTED)
    )
    return await admin_page(
        request,
        container,
        visitor,
        "admin_users.html",
        title="Users",
        q=q,
        items=found.items,
        pages=page_links(request, "/admin/users", "cursor", found),
    )
