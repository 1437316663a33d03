"""The server-rendered web UI (SPEC §11): pages over the same domain services as the API."""

from __future__ import annotations

from fastapi import FastAPI

from tenantry.transports.web import (
    admin_console,
    app_pages,
    entry,
    invite,
    onboarding,
    organizations,
    people,
    projects,
    teams,
)
from tenantry.transports.web.render import STATIC_DIR, HeadedStaticFiles
from tenantry.transports.web.visitors import install_handlers


def install(app: FastAPI, *, include_admin: bool = True) -> None:
    """Mount the pages, their static files and the web-only error handlers on `app`; the
    platform admin console only where the admin routes are served (`include_admin`)."""
    app.include_router(entry.router)
    app.include_router(app_pages.router)
    app.include_router(people.router)
    app.include_router(invite.router)
    app.include_router(projects.router)
    app.include_router(teams.router)
    app.include_router(onboarding.router)
    app.include_router(organizations.router)
    app.mount("/assets", HeadedStaticFiles(directory=STATIC_DIR), name="web-assets")
    install_handlers(app)
    if include_admin:
        admin_console.install(app)
