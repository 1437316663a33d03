"""Rendering pages: one Jinja2 environment, the security headers pages carry beyond those of
every response (`rest.security_headers`), and the messages that redirects name by key."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'; object-src 'none'"
)
PAGE_HEADERS = {"Content-Security-Policy": CSP, "X-Frame-Options": "DENY"}
# The assets may be cached, but checked on every use (their ETag): never stale after an upgrade.
ASSET_CACHING = "no-cache"
# Messages a redirect names with `?notice=`: fixed texts, so nothing typed is echoed.
NOTICES = {
    "signed_out": "You are signed out.",
    "signed_out_everywhere": "You are signed out on every device.",
    "password_reset": "Your password is reset. Sign in with the new one.",
    "name_saved": "Your name is saved.",
    "password_saved": "Your password is saved. Your other sessions were signed out.",
    "session_ended": "Your session has ended. Sign in again.",
    "role_changed": "The role is changed.",
    "member_removed": "The member is removed.",
    "left_tenant": "You left the tenant.",
    "invitation_revoked": "The invitation is revoked.",
    "invitation_accepted": "You joined the tenant.",
    "invitation_declined": "You declined the invitation.",
    "admin_tenant_created": "The tenant is created. A new owner is mailed a code to activate.",
    "admin_plan_changed": "The plan is changed.",
    "admin_tenant_disabled": "The tenant is disabled. Its members are locked out; data is kept.",
    "admin_tenant_enabled": "The tenant is enabled again.",
    "admin_renamed": "The tenant is renamed.",
    "admin_features_saved": "The feature settings are saved.",
    "admin_metadata_saved": "The metadata is saved.",
    "project_created": "The project is created.",
    "project_renamed": "The project is renamed.",
    "project_deleted": "The project is deleted.",
    "environment_added": "The environment is added.",
    "environment_deleted": "The environment is deleted.",
    "key_rotated": "The client key is replaced. The old key no longer works.",
    "team_created": "The team is created.",
    "team_renamed": "The team is renamed.",
    "team_deleted": "The team is deleted.",
    "team_member_added": "The member is added to the team.",
    "team_member_removed": "The member is removed from the team.",
    "team_linked": "The team is linked to the project.",
    "team_unlinked": "The team is unlinked from the project.",
    "organization_created": "The organization is created. You are its owner.",
}

templates = Environment(
    loader=PackageLoader("tenantry.transports.web", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def with_headers(response: Response) -> Response:
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    notice = NOTICES.get(request.query_params.get("notice", ""))
    body = templates.get_template(template).render(
        request_path=request.url.path,
        notice=notice,
        console_only=getattr(request.app.state, "console_only", False),
        **context,
    )
    response = HTMLResponse(body, status_code=status)
    with_headers(response)
    return response


def redirect(url: str) -> RedirectResponse:
    """After a form post: 303, so the browser follows with a GET."""
    response = RedirectResponse(url, status_code=303)
    with_headers(response)
    return response


class WebRoute(APIRoute):
    """Every page route answers with the security headers, whatever it returned."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_security_headers(request: Request) -> Response:
            return with_headers(await handler(request))

        return with_security_headers


class HeadedStaticFiles(StaticFiles):
    """The stylesheet and script, cacheable (unlike every other response)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = ASSET_CACHING
        return response
