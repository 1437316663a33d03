"""The server-rendered web UI (SPEC §11): pages over the same domain services as the API."""

from __future__ import annotations

from fastapi import FastAPI

from tenantry.transports.web import admin as admin_console_pages
from tenantry.transports.web import (
    app_pages,
    entry,
    environments,
    invite,
    onboarding,
    organizations,
    people,
    projects,
    teams,
)
from tenantry.transports.web.render import STATIC_DIR, HeadedStaticFiles
from tenantry.transports.web.visitors import install_handlers


def install(app: FastAPI, *, public_pages: bool = True, admin_console: bool = True) -> None:
    """Mount the pages, their static files and the web-only error handlers on `app`: the
    public pages and the platform admin console as asked. The console goes where the admin
    routes are served, so on a private admin listener it comes with the sign-in pages only
    (`console_only`), and its pages' header offers nothing of the public app."""
    app.include_router(entry.router)
    if public_pages:
        app.include_router(app_pages.router)
        app.include_router(people.router)
        app.include_router(invite.router)
        app.include_router(projects.router)
        app.include_router(environments.router)
        app.include_router(teams.router)
        app.include_router(teams.team_router)
        app.include_router(onboarding.router)
        app.include_router(organizations.router)
    app.mount("/assets", HeadedStaticFiles(directory=STATIC_DIR), name="web-assets")
    install_handlers(app)
    if admin_console:
        admin_console_pages.install(app, console_only=not public_pages)
