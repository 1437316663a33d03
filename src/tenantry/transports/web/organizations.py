"""Creating an organization in the web UI (SPEC §6, §11): the same service as
`POST /v1/tenants`, then the new tenant becomes the default (as `PATCH /v1/me`) and opens."""

from __future__ import annotations

from fastapi import Request, Response

from tenantry.domain.accounts.users import MembershipView
from tenantry.domain.names import TenantName
from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.rest.routing import PrefixedRouter
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
    created = await container.tenants.create_organization(
        owner_id=post.visitor.principal.user_id, name=name, make_default=True
    )
    assert isinstance(created, MembershipView)  # no idempotency key, so never a replay
    return redirect(f"/app/t/{created.tenant_id}?notice=organization_created")
