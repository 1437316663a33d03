"""The platform admin console (SPEC §8, §11): search, create, change, disable and enable
tenants, and find users, through the services the `/v1/admin` routes call. The admin flag is
read from the database on every request, as the REST `platform_admin` dependency does."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from pydantic import ValidationError

from tenantry.bootstrap import Container
from tenantry.domain.accounts.members import list_members
from tenantry.domain.provider.admin_details import TenantDetails
from tenantry.domain.provider.admin_search import TenantQuery, search_tenants, search_users
from tenantry.domain.provider.admin_tenants import NewTenant, TenantChanges
from tenantry.domain.provider.admins import is_platform_admin
from tenantry.errors import DomainError
from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.rest.limits import lift_deadline
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.admin import AdminTenantUpdate
from tenantry.transports.rest.schemas.common import Name, TenantName
from tenantry.transports.web.app_pages import app_page
from tenantry.transports.web.destinations import back_here
from tenantry.transports.web.entry import failure, normalized_email
from tenantry.transports.web.names import name_rule
from tenantry.transports.web.paging import page_links, requested_page
from tenantry.transports.web.render import WebRoute, redirect
from tenantry.transports.web.visitors import (
    Post,
    SignInRequired,
    Visitor,
    checked_post,
    field,
    resolve_visitor,
)

router = PrefixedRouter(prefix="/admin", route_class=WebRoute, include_in_schema=False)
LISTED = 50
TEXT_LIMIT = 200
TENANT_NAME = name_rule("a name", TenantName)
OWNER_NAME = name_rule("the owner's name", Name)
REASON_LIMIT = 500
METADATA_LIMIT = 20_000
STATUSES = ("active", "disabled", "provisioning")


class NotPlatformAdmin(Exception):
    """A signed-in visitor who is not (or no longer) a platform admin."""

    def __init__(self, visitor: Visitor) -> None:
        self.visitor = visitor


async def platform_admin(request: Request, container: ContainerDep) -> Visitor:
    """The visitor, if a platform admin now (the flag re-read on this request)."""
    visitor = await resolve_visitor(request, container)
    if visitor is None:
        raise SignInRequired(back_here(request))
    async with container.db.read() as session:
        if await is_platform_admin(session, visitor.principal.user_id):
            return visitor
    raise NotPlatformAdmin(visitor)


AdminDep = Annotated[Visitor, Depends(platform_admin)]


async def admin_post(request: Request, container: ContainerDep, visitor: AdminDep) -> Post:
    """An admin's form post, with its session-bound CSRF token checked."""
    return await checked_post(request, container, visitor)


AdminPostDep = Annotated[Post, Depends(admin_post)]


async def _page(
    request: Request,
    container: Container,
    visitor: Visitor,
    template: str,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    return await app_page(
        request, container, visitor, template, status=status, admin_section=True, **context
    )


def _choice(value: str | None, allowed: list[str] | tuple[str, ...]) -> str | None:
    return value if value in allowed else None


@router.get("")
async def tenants(request: Request, container: ContainerDep, visitor: AdminDep) -> Response:
    """Tenants by name or id, status and plan; oldest first, a page at a time."""
    params = request.query_params
    plan_ids = [plan.id for plan in container.plans.all()]
    query = TenantQuery(
        q=params.get("q", "")[:TEXT_LIMIT] or None,
        status=_choice(params.get("status"), STATUSES),
        plan=_choice(params.get("plan"), plan_ids),
    )
    async with container.db.read() as session:
        found = await search_tenants(
            session, query=query, page=requested_page(request, "cursor", limit=LISTED)
        )
    return await _page(
        request,
        container,
        visitor,
        "admin_tenants.html",
        title="Tenants",
        query=query,
        plans=plan_ids,
        statuses=STATUSES,
        items=found.items,
        pages=page_links(request, "/admin", "cursor", found),
    )


async def _new_page(
    request: Request, container: Container, visitor: Visitor, *, status: int = 200, **context: Any
) -> Response:
    plans = [plan.id for plan in container.plans.all()]
    return await _page(
        request,
        container,
        visitor,
        "admin_new.html",
        status=status,
        title="New tenant",
        plans=plans,
        **context,
    )


@router.get("/tenants/new")
async def new_tenant(request: Request, container: ContainerDep, visitor: AdminDep) -> Response:
    return await _new_page(request, container, visitor, form={})


@router.post("/tenants/new")
async def create_tenant(request: Request, container: ContainerDep, post: AdminPostDep) -> Response:
    """Provision a tenant owned by an email address (as `POST /v1/admin/tenants`)."""
    form = {
        name: field(post.form, name, limit=TEXT_LIMIT + 1).strip()
        for name in ("name", "owner_email", "owner_name", "plan")
    }
    email = normalized_email(form["owner_email"])
    name = TENANT_NAME.read(post.form)
    owner_name = OWNER_NAME.read(post.form, "owner_name")
    if name is None or owner_name is None or email is None:
        message = (
            f"{TENANT_NAME.message} Give the owner's email address, and an owner's name"
            " (optional) without control characters."
        )
        return await _new_page(
            request, container, post.visitor, status=422, form=form, error=message
        )
    new = NewTenant(
        name=name, plan=form["plan"][:50], owner_email=email, owner_name=owner_name or None
    )
    try:
        created = await container.admin_tenants.create(new, admin_id=post.visitor.principal.user_id)
    except DomainError as error:
        status, message = failure(error)
        return await _new_page(
            request, container, post.visitor, status=status, form=form, error=message
        )
    assert isinstance(created, TenantDetails)  # no idempotency key, so never a replay
    return redirect(f"/admin/tenants/{created.id}?notice=admin_tenant_created")


async def _details_page(
    request: Request,
    container: Container,
    visitor: Visitor,
    tenant_id: uuid.UUID,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    try:
        details = await container.admin_tenants.details(tenant_id)
    except DomainError as error:
        code, message = failure(error)
        return await _page(
            request,
            container,
            visitor,
            "admin_missing.html",
            status=code,
            title="No such tenant",
            message=message,
        )
    async with container.db.read() as session:
        members = await list_members(
            session, tenant_id=tenant_id, page=requested_page(request, "members")
        )
    plans = [plan.id for plan in container.plans.all()]
    return await _page(
        request,
        container,
        visitor,
        "admin_tenant.html",
        status=status,
        title=details.name,
        tenant=details,
        members=members.items,
        member_pages=page_links(request, f"/admin/tenants/{tenant_id}", "members", members),
        plans=plans,
        feature_names=_feature_names(container),
        metadata_text=context.pop("metadata_text", None)
        or json.dumps(details.metadata, indent=2, sort_keys=True),
        **context,
    )


@router.get("/tenants/{tenant_id}")
async def tenant(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, visitor: AdminDep
) -> Response:
    return await _details_page(request, container, visitor, tenant_id)


async def _run(
    request: Request,
    container: Container,
    post: Post,
    tenant_id: uuid.UUID,
    action: Awaitable[None],
    notice: str,
) -> Response:
    """Run one admin action; a refusal shows the domain's message on the details page."""
    try:
        await action
    except DomainError as error:
        status, message = failure(error)
        return await _details_page(
            request, container, post.visitor, tenant_id, status=status, error=message
        )
    return redirect(f"/admin/tenants/{tenant_id}?notice={notice}")


@router.post("/tenants/{tenant_id}/plan", dependencies=[Depends(lift_deadline)])
async def change_plan(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, post: AdminPostDep
) -> Response:
    """Change the plan (as `PATCH /v1/admin/tenants/{id} {plan}`); between the pool and a silo
    the tenant's data moves before this answers."""
    changes = TenantChanges(plan=field(post.form, "plan", limit=50))
    action = container.admin_tenants.update(
        tenant_id, changes, admin_id=post.visitor.principal.user_id
    )
    return await _run(request, container, post, tenant_id, action, "admin_plan_changed")


async def _update(
    request: Request,
    container: Container,
    post: Post,
    tenant_id: uuid.UUID,
    fields: dict[str, Any],
    notice: str,
    **kept: Any,
) -> Response:
    """A change through the body schema of `PATCH /v1/admin/tenants/{id}`, so the console
    refuses what the API refuses, with a message instead of a problem document; `kept` is
    what the form showed, shown again with the message."""
    try:
        body = AdminTenantUpdate.model_validate(fields)
    except ValidationError as error:
        return await _details_page(
            request, container, post.visitor, tenant_id, status=422, error=invalid(error), **kept
        )
    changes = TenantChanges(name=body.name, metadata=body.metadata, features=body.features)
    action = container.admin_tenants.update(
        tenant_id, changes, admin_id=post.visitor.principal.user_id
    )
    return await _run(request, container, post, tenant_id, action, notice)


def _feature_names(container: Container) -> list[str]:
    return sorted({name for plan in container.plans.all() for name in plan.features})


def invalid(error: ValidationError) -> str:
    """The first problem pydantic found, as a sentence."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}." if where else f"{first['msg']}."


@router.post("/tenants/{tenant_id}/name")
async def rename(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, post: AdminPostDep
) -> Response:
    name = field(post.form, "name", limit=TEXT_LIMIT + 1).strip()
    return await _update(request, container, post, tenant_id, {"name": name}, "admin_renamed")


@router.post("/tenants/{tenant_id}/features")
async def set_features(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, post: AdminPostDep
) -> Response:
    """Each feature follows its plan or is forced on or off (an override)."""
    chosen = {"plan": None, "on": True, "off": False}
    features = {
        name: chosen.get(field(post.form, f"feature.{name}", limit=10))
        for name in _feature_names(container)
    }
    return await _update(
        request, container, post, tenant_id, {"features": features}, "admin_features_saved"
    )


@router.post("/tenants/{tenant_id}/metadata")
async def set_metadata(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, post: AdminPostDep
) -> Response:
    """The whole metadata object as JSON: keys left out are removed (PATCH merges, so they
    are sent as nulls)."""
    text = field(post.form, "metadata", limit=METADATA_LIMIT + 1)
    try:
        wanted = json.loads(text or "{}") if len(text) <= METADATA_LIMIT else None
    except ValueError:
        wanted = None
    if not isinstance(wanted, dict):
        message = f"Enter a JSON object of at most {METADATA_LIMIT} characters."
        return await _details_page(
            request,
            container,
            post.visitor,
            tenant_id,
            status=422,
            error=message,
            metadata_text=text,
        )
    try:
        current = (await container.admin_tenants.details(tenant_id)).metadata
    except DomainError:
        current = {}  # the update says what is wrong
    merged = {**dict.fromkeys(current), **wanted}
    return await _update(
        request,
        container,
        post,
        tenant_id,
        {"metadata": merged},
        "admin_metadata_saved",
        metadata_text=text,
    )


@router.post("/tenants/{tenant_id}/disable")
async def disable(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, post: AdminPostDep
) -> Response:
    """Lock every member out from their next request on; the data stays."""
    reason = field(post.form, "reason", limit=REASON_LIMIT).strip() or None
    action = container.admin_tenants.disable(
        tenant_id, reason=reason, admin_id=post.visitor.principal.user_id
    )
    return await _run(request, container, post, tenant_id, action, "admin_tenant_disabled")


@router.post("/tenants/{tenant_id}/enable")
async def enable(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, post: AdminPostDep
) -> Response:
    action = container.admin_tenants.enable(tenant_id, admin_id=post.visitor.principal.user_id)
    return await _run(request, container, post, tenant_id, action, "admin_tenant_enabled")


@router.get("/users")
async def users(request: Request, container: ContainerDep, visitor: AdminDep) -> Response:
    """Users whose email or name contains `q`, a page at a time."""
    q = request.query_params.get("q", "")[:TEXT_LIMIT]
    async with container.db.read() as session:
        found = await search_users(
            session, q=q or None, page=requested_page(request, "cursor", limit=LISTED)
        )
    return await _page(
        request,
        container,
        visitor,
        "admin_users.html",
        title="Users",
        q=q,
        items=found.items,
        pages=page_links(request, "/admin/users", "cursor", found),
    )


async def _home_is_the_console() -> Response:
    return redirect("/admin")


async def _forbidden(request: Request, error: Exception) -> Response:
    assert isinstance(error, NotPlatformAdmin)
    container: Container = request.app.state.container
    return await app_page(
        request,
        container,
        error.visitor,
        "admin_forbidden.html",
        status=403,
        title="Platform admins only",
    )


def install(app: FastAPI, *, console_only: bool = False) -> None:
    """Mount the console on an app that serves the admin routes, with its two refusals. On
    an app without the public pages (`console_only`), home is the console."""
    app.state.console_only = console_only
    if console_only:
        app.add_api_route("/app", _home_is_the_console, include_in_schema=False)
    app.include_router(router)
    app.add_exception_handler(NotPlatformAdmin, _forbidden)
