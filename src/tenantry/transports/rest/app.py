"""The ASGI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig

from tenantry import __version__
from tenantry.bootstrap import Container
from tenantry.logs import configure_logging
from tenantry.settings import Settings
from tenantry.transports import web
from tenantry.transports.graphql import graphql_router
from tenantry.transports.rest import openapi, problems
from tenantry.transports.rest.cors import CollectCors
from tenantry.transports.rest.limits import RequestLimits
from tenantry.transports.rest.nul_guard import RejectNul
from tenantry.transports.rest.observability import Observability
from tenantry.transports.rest.routers import (
    admin,
    audit,
    auth,
    collect,
    experiments,
    health,
    invitations,
    me,
    members,
    orders,
    plans,
    products,
    projects,
    registrations,
    teams,
    tenant,
    tenants,
    webhook_endpoints,
    webhooks,
    wellknown,
)
from tenantry.transports.rest.security_headers import SecurityHeaders

NO_NATIVE_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def freeze_startup_heap() -> None:
    """Move everything alive after start-up (modules, mappers, models, caches' skeletons) out
    of the collector's reach. Full collections otherwise walk that whole heap every so often:
    a stop that set the p99 of POST /v1/collect (measured in docs/benchmarks.md §7)."""
    gc.collect()
    gc.freeze()


def create_app(
    container: Container | None = None,
    *,
    migrate: bool = True,
    workers: bool = True,
    include_public: bool = True,
    include_admin: bool = True,
) -> FastAPI:
    """Build the API around `container` (or one made from the environment). The lifespan
    starts the container: migrations, signing keys, mail worker. The health routes are always
    served; the public and the platform-admin routes as asked (SPEC §8: the admin routes may
    have a private listener of their own)."""
    resolved = container or Container(Settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await resolved.start(migrate=migrate, workers=workers)
        freeze_startup_heap()
        try:
            yield
        finally:
            await resolved.stop()

    app = FastAPI(
        title="Tenantry",
        version=__version__,
        lifespan=lifespan,
        # Tenantry's own middleware does the metrics and logs (`Observability`). FastAPI's
        # OpenTelemetry bridge would otherwise look up the global providers on every request
        # (environment reads) only to find them unconfigured.
        telemetry=NO_NATIVE_TELEMETRY,
    )
    app.state.container = resolved
    problems.install(app)
    openapi.install(app)
    for router in routers_of(
        resolved.settings, public=include_public, platform_admin=include_admin
    ):
        app.include_router(router)
    if include_public or include_admin:
        web.install(app, public_pages=include_public, admin_console=include_admin)
    install_middleware(app, resolved.settings, collect_cors=include_public)
    return app


def routers_of(settings: Settings, *, public: bool, platform_admin: bool) -> list[APIRouter]:
    """The API's routers, in the order FastAPI tries them: health always, then the public
    and the platform-admin ones as asked."""
    routers: list[APIRouter] = [health.router]
    if public:
        # FastAPI tries routers in this order. A `PrefixedRouter` declines a foreign path at
        # once, the others try each of their routes: the tenant-scoped reads every client
        # makes come first all the same.
        routers += [
            collect.router,  # the ingest route gets by far the most requests
            tenant.router,
            me.router,
            projects.router,
            experiments.router,
            members.router,
            teams.router,
            products.router,
            orders.router,
            invitations.router,
            tenants.router,
            auth.router,
            plans.router,
            wellknown.router,
            registrations.router,
            audit.router,
            webhooks.router,
            webhook_endpoints.router,
            graphql_router(graphiql=settings.graphiql),
        ]
    if platform_admin:
        # rarely called: last
        routers += [admin.router, webhook_endpoints.admin_router, audit.admin_router]
    return routers


def install_middleware(app: FastAPI, settings: Settings, *, collect_cors: bool) -> None:
    """The stack, outermost first (each `add_middleware` wraps the ones before): Observability
    (ids, metrics, the security headers of every response), the collect route's CORS (so that
    browsers can read its 413s and timeouts too), the body and time limits, then the refusal
    of NUL characters."""
    app.add_middleware(RejectNul)  # inside the limits: the body it scans is bounded
    app.add_middleware(
        RequestLimits, max_body_bytes=settings.max_body_bytes, timeout=settings.request_timeout
    )
    if collect_cors:
        app.add_middleware(CollectCors)
    security_headers = SecurityHeaders(
        public_url=settings.public_url, trusted_proxies=settings.trusted_proxies
    )
    app.add_middleware(
        Observability,
        security_headers=security_headers,
        trusted_proxies=settings.trusted_proxies,
    )


def create_served_app() -> FastAPI:
    """The app for `tenantry serve`: the CLI has already migrated and created keys. The admin
    routes are left to their own listener when `TENANTRY_ADMIN_LISTEN` names one."""
    settings = Settings()
    configure_logging(level=settings.log_level, json_lines=settings.log_json)
    return create_app(
        Container(settings), migrate=False, include_admin=settings.admin_listen is None
    )


def create_served_admin_app() -> FastAPI:
    """The app of the private admin listener (`tenantry serve --admin-listen`): the admin and
    health routes only."""
    settings = Settings()
    configure_logging(level=settings.log_level, json_lines=settings.log_json)
    return create_app(Container(settings), migrate=False, include_public=False)
