"""Provisioning a tenant from the console, owned by an email address (as
`POST /v1/admin/tenants`)."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from tenantry.bootstrap import Container
from tenantry.domain.names import Name, TenantName
from tenantry.domain.provider.admin_details import TenantDetails
from tenantry.domain.provider.admin_tenants import NewTenant
from tenantry.errors import DomainError
from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.web.admin.access import AdminDep, AdminPostDep
from tenantry.transports.web.admin.pages import TEXT_LIMIT, admin_page, console_router, plan_ids
from tenantry.transports.web.entry import failure, normalized_email
from tenantry.transports.web.names import name_rule
from tenantry.transports.web.render import redirect
from tenantry.transports.web.visitors import Post, Visitor, field

router = console_router()
TENANT_NAME = name_rule("a name", TenantName)
OWNER_NAME = name_rule("the owner's name", Name)
FIELDS = ("name", "owner_email", "owner_name", "plan")


async def _new_page(
    request: Request, container: Container, visitor: Visitor, *, status: int = 200, **context: Any
) -> Response:
    return await admin_page(
        request,
        container,
        visitor,
        "admin_new.html",
        status=status,
        title="New tenant",
        plans=plan_ids(container),
        **context,
    )


@router.get("/tenants/new")
async def new_tenant(request: Request, container: ContainerDep, visitor: AdminDep) -> Response:
    return await _new_page(request, container, visitor, form={})


def _new_tenant(post: Post, form: dict[str, str]) -> NewTenant | None:
    """The tenant the form asks for, or None if a name or the address is not one."""
    email = normalized_email(form["owner_email"])
    name = TENANT_NAME.read(post.form)
    owner_name = OWNER_NAME.read(post.form, "owner_name")
    if name is None or owner_name is None or email is None:
        return None
    return NewTenant(
        name=name, plan=form["plan"][:50], owner_email=email, owner_name=owner_name or None
    )


@router.post("/tenants/new")
async def create_tenant(request: Request, container: ContainerDep, post: AdminPostDep) -> Response:
    """Provision a tenant owned by an email address (as `POST /v1/admin/tenants`)."""
    form = {name: field(post.form, name, limit=TEXT_LIMIT + 1).strip() for name in FIELDS}
    new = _new_tenant(post, form)
    if new is None:
        message = (
            f"{TENANT_NAME.message} Give the owner's email address, and an owner's name"
            " (optional) without control characters."
        )
        return await _new_page(
            request, container, post.visitor, status=422, form=form, error=message
        )
    try:
        created = await container.admin_tenants.create(
            new=new, admin_id=post.visitor.principal.user_id
        )
    except DomainError as error:
        status, message = failure(error)
        return await _new_page(
            request, container, post.visitor, status=status, form=form, error=message
        )
    assert isinstance(created, TenantDetails)  # no idempotency key, so never a replay
    return redirect(f"/admin/tenants/{created.id}?notice=admin_tenant_created")
