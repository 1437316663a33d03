"""The platform admin console (SPEC §8, §11): search, create, change, disable and enable
tenants, and find users, through the services the `/v1/admin` routes call. The admin flag is
read from the database on every request, as the REST `platform_admin` dependency does."""

from __future__ import annotations

from fastapi import FastAPI, Response

from tenantry.transports.web.admin import (
    new_tenant,
    tenant_page,
    tenant_settings,
    tenant_status,
    tenants,
    users,
)
from tenantry.transports.web.admin.access import NotPlatformAdmin, forbidden
from tenantry.transports.web.render import redirect

# `/admin/tenants/new` before `/admin/tenants/{tenant_id}`, which would take "new" for an id.
ROUTERS = (tenants, new_tenant, tenant_page, tenant_settings, tenant_status, users)


async def _home_is_the_console() -> Response:
    return redirect("/admin")


def install(app: FastAPI, *, console_only: bool = False) -> None:
    """Mount the console on an app that serves the admin routes, with its two refusals. On
    an app without the public pages (`console_only`), home is the console."""
    app.state.console_only = console_only
    if console_only:
        app.add_api_route("/app", _home_is_the_console, include_in_schema=False)
    for module in ROUTERS:
        app.include_router(module.router)
    app.add_exception_handler(NotPlatformAdmin, forbidden)
