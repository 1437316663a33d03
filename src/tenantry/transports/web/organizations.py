"""Creating an organization in the web UI (SPEC §6, §11): the same service as
`POST /v1/tenants`, then the new tenant becomes the default (as `PATCH /v1/me`) and opens."""

from __future__ import annotations

from fastapi import Request, Response

from tenantry.domain.accounts.tenants import create_organization
from tenantry.domain.accounts.users import update_profile
from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.common import TenantName
from tenantry.transports.web.app_pages import app_page
from tenantry.transports.web.names import name_rule
from tenantry.transports.web.render import WebRoute, redirect
from tenantry.transports.web.visitors import PostDep, VisitorDep, field

router = PrefixedRouter(prefix="/app/organizations", route_class=WebRoute, include_in_schema=False)
TITLE = "New organization"
TENANT_NAME = name_rule("a name", TenantName)


@router.get("/new")
async def new_organization(
    request: Request, container: ContainerDep, visitor: VisitorDep
) -> Response:
    return await app_page(request, container, visitor, "organization_new.html", title=TITLE)


@router.post("")
async def create(request: Request, container: ContainerDep, post: PostDep) -> Response:
    """A new organization owned by the visitor, on the free plan, switched to at once."""
    name = TENANT_NAME.read(post.form)
    if name is None:
        return await app_page(
            request,
            container,
            post.visitor,
            "organization_new.html",
            status=422,
            title=TITLE,
            error=TENANT_NAME.message,
            name=field(post.form, "name"),
        )
    user_id = post.visitor.principal.user_id
    async with container.db.transaction() as session:
        tenant = await create_organization(
            session, owner_id=user_id, name=name, now=container.clock.now()
        )
    async with container.db.transaction() as session:
        await update_profile(
            session, user_id=user_id, now=container.clock.now(), default_tenant_id=tenant.id
        )
    return redirect(f"/app/t/{tenant.id}?notice=organization_created")
