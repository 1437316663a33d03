"""The signed-in app (SPEC §11): the dashboard of a tenant, the tenant switcher and account
settings. Every page re-checks the session, and tenant pages the membership and the tenant's
status, through the authenticator the API uses: an eviction shows on the very next page."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request, Response

from tenantry.bootstrap import Container
from tenantry.domain.accounts.roles import TenantActor
from tenantry.domain.names import DisplayName
from tenantry.errors import DomainError, PermissionDenied
from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.web.entry import failure
from tenantry.transports.web.names import name_rule
from tenantry.transports.web.render import NOTICES, WebRoute, page, redirect
from tenantry.transports.web.visitors import (
    PageInterrupt,
    PostDep,
    Visitor,
    VisitorDep,
    clear_session_cookie,
    field,
)

router = PrefixedRouter(prefix="/app", route_class=WebRoute, include_in_schema=False)
DASHBOARD_PROJECTS = 50
STEP_TITLES = {
    "snippet": "Install the script",
    "company": "Company details",
    "invite": "Invite teammates",
    "project": "Create a project or experiment",
}
DISPLAY_NAME = name_rule("a name", DisplayName)


async def app_page(
    request: Request,
    container: Container,
    visitor: Visitor,
    template: str,
    *,
    status: int = 200,
    current_tenant_id: uuid.UUID | None = None,
    **context: Any,
) -> Response:
    """A signed-in page: the header's switcher lists the user's tenants, as of now."""
    profile = await container.profiles.get(visitor.principal.user_id)
    return page(
        request,
        template,
        status=status,
        csrf_token=visitor.csrf_token,
        profile=profile,
        current_tenant_id=current_tenant_id or profile.default_tenant_id,
        platform_admin=visitor.principal.is_platform_admin,  # cached; /admin re-reads it
        **context,
    )


@router.get("")
async def dashboard_home(
    request: Request, container: ContainerDep, visitor: VisitorDep
) -> Response:
    profile = await container.profiles.get(visitor.principal.user_id)
    if profile.default_tenant_id is not None:
        notice = request.query_params.get("notice", "")
        carried = f"?notice={notice}" if notice in NOTICES else ""
        return redirect(f"/app/t/{profile.default_tenant_id}{carried}")
    return await app_page(request, container, visitor, "no_tenant.html", title="No workspace")


async def tenant_actor(
    request: Request, container: Container, visitor: Visitor, tenant_id: uuid.UUID
) -> TenantActor:
    """The visitor acting in `tenant_id`, checked on this request like an API call; the 403
    page interrupts the request when they are no member (any more) or the tenant is disabled."""
    identity = visitor.identity
    try:
        _, access = await container.authenticator.authenticate_session(
            user_id=identity.user_id,
            session_id=identity.session_id,
            email=identity.email,
            signed_in_at=identity.signed_in_at,
            tenant_id=tenant_id,
        )
    except PermissionDenied as error:
        blocked = await app_page(
            request,
            container,
            visitor,
            "tenant_blocked.html",
            status=403,
            current_tenant_id=tenant_id,
            title="No access",
            reason=error.code,
        )
        raise PageInterrupt(blocked) from error
    assert access is not None
    return TenantActor(identity.user_id, tenant_id, access.role)


@router.get("/t/{tenant_id}")
async def dashboard(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, visitor: VisitorDep
) -> Response:
    actor = await tenant_actor(request, container, visitor, tenant_id)
    tenant = await container.tenant_views.get(tenant_id)
    shown = await container.dashboards.of(actor=actor, projects=DASHBOARD_PROJECTS)
    states = shown.checklist
    return await app_page(
        request,
        container,
        visitor,
        "dashboard.html",
        current_tenant_id=tenant_id,
        title=tenant.name,
        tenant=tenant,
        role=actor.role,
        projects=shown.projects.items,
        more_projects=shown.projects.next_cursor is not None,
        checklist=[(step, STEP_TITLES[step], state) for step, state in states.items()]
        if states
        else None,
        checklist_open=states is not None and "open" in states.values(),
    )


@router.post("/switch")
async def switch_tenant(container: ContainerDep, post: PostDep, request: Request) -> Response:
    """Make the chosen tenant the default (as `PATCH /v1/me`) and show it."""
    try:
        tenant_id = uuid.UUID(field(post.form, "tenant_id", limit=64))
    except ValueError:
        return redirect("/app")
    try:
        await container.users.update_profile(
            user_id=post.visitor.principal.user_id, default_tenant_id=tenant_id
        )
    except PermissionDenied as error:
        return await app_page(
            request,
            container,
            post.visitor,
            "tenant_blocked.html",
            status=403,
            title="No access",
            reason=error.code,
        )
    return redirect(f"/app/t/{tenant_id}")


async def account_page(
    request: Request,
    container: Container,
    visitor: Visitor,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    has_password = await container.recovery.has_password(user_id=visitor.principal.user_id)
    return await app_page(
        request,
        container,
        visitor,
        "account.html",
        status=status,
        title="Account",
        has_password=has_password,
        **context,
    )


@router.get("/account")
async def account(request: Request, container: ContainerDep, visitor: VisitorDep) -> Response:
    return await account_page(request, container, visitor)


@router.post("/account/name")
async def rename(request: Request, container: ContainerDep, post: PostDep) -> Response:
    name = DISPLAY_NAME.read(post.form)
    if name is None:
        message = DISPLAY_NAME.message
        return await account_page(request, container, post.visitor, status=422, name_error=message)
    await container.users.update_profile(user_id=post.visitor.principal.user_id, name=name)
    return redirect("/app/account?notice=name_saved")


@router.post("/account/password")
async def set_password(request: Request, container: ContainerDep, post: PostDep) -> Response:
    """Change the password (or set a first one); every other session is signed out."""
    principal = post.visitor.principal
    password = field(post.form, "password")
    try:
        if await container.recovery.has_password(user_id=principal.user_id):
            await container.recovery.change_password(
                principal=principal,
                current_password=field(post.form, "current_password"),
                password=password,
            )
        else:
            await container.recovery.set_first_password(principal=principal, password=password)
    except DomainError as error:
        status, message = failure(error)
        return await account_page(
            request, container, post.visitor, status=status, password_error=message
        )
    return redirect("/app/account?notice=password_saved")


@router.post("/account/sign-out-everywhere")
async def sign_out_everywhere(container: ContainerDep, post: PostDep) -> Response:
    await container.web_sessions.close_everywhere(user_id=post.visitor.principal.user_id)
    response = redirect("/login?notice=signed_out_everywhere")
    clear_session_cookie(response, container)
    return response
