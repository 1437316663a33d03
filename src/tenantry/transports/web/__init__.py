"""The server-rendered web UI (SPEC §11): pages over the same domain services as the API."""

from __future__ import annotations

from fastapi import FastAPI

from tenantry.transports.web import app_pages, entry, invite, people
from tenantry.transports.web.render import STATIC_DIR, HeadedStaticFiles
from tenantry.transports.web.visitors import install_handlers


def install(app: FastAPI) -> None:
    """Mount the pages, their static files and the web-only error handlers on `app`."""
    app.include_router(entry.router)
    app.include_router(app_pages.router)
    app.include_router(people.router)
    app.include_router(invite.router)
    app.mount("/assets", HeadedStaticFiles(directory=STATIC_DIR), name="web-assets")
    install_handlers(app)
