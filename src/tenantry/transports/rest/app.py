"""The ASGI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tenantry import __version__
from tenantry.bootstrap import Container
from tenantry.logs import configure_logging
from tenantry.settings import Settings
from tenantry.transports.rest import problems
from tenantry.transports.rest.observability import Observability
from tenantry.transports.rest.routers import (
    auth,
    health,
    invitations,
    me,
    members,
    plans,
    projects,
    teams,
    tenant,
    tenants,
    wellknown,
)


def create_app(
    container: Container | None = None, *, migrate: bool = True, workers: bool = True
) -> FastAPI:
    """Build the API around `container` (or one made from the environment). The lifespan
    starts the container: migrations, signing keys, mail worker."""
    resolved = container or Container(Settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await resolved.start(migrate=migrate, workers=workers)
        try:
            yield
        finally:
            await resolved.stop()

    app = FastAPI(title="Tenantry", version=__version__, lifespan=lifespan)
    app.state.container = resolved
    problems.install(app)
    # FastAPI tries routers in this order, each one passed costing ~8 us per request
    # (bench/http_tenant.py): the tenant-scoped reads every client makes come first.
    for router in (
        health.router,
        tenant.router,
        me.router,
        projects.router,
        members.router,
        teams.router,
        invitations.router,
        tenants.router,
        auth.router,
        plans.router,
        wellknown.router,
    ):
        app.include_router(router)
    app.add_middleware(Observability)
    return app


def create_served_app() -> FastAPI:
    """The app for `tenantry serve`: the CLI has already migrated and created keys."""
    settings = Settings()
    configure_logging(level=settings.log_level, json_lines=settings.log_json)
    return create_app(Container(settings), migrate=False)
