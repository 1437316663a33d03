"""An in-process app on changed settings, for tests that need another configuration than the
`client` fixture's (trusted proxies, costlier hashing, ...)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tenantry.bootstrap import Container
from tenantry.clock import Clock
from tenantry.settings import Settings
from tenantry.transports.rest.app import create_app


@asynccontextmanager
async def client_with(
    settings: Settings,
    clock: Clock,
    *,
    base_url: str = "http://testserver",
    peer: tuple[str, int] = ("127.0.0.1", 123),
    **changes: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a started container whose settings are `settings` updated by `changes`,
    connecting from `peer` (the address the app sees) to `base_url` (its scheme too)."""
    container = Container(settings.model_copy(update=changes), clock=clock)
    await container.start(migrate=False)
    try:
        transport = httpx.ASGITransport(app=create_app(container), client=peer)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client
    finally:
        await container.stop()
