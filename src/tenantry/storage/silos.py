"""Silo stores: a database of its own for each tenant on a silo plan (SPEC §10). On SQLite a
file per tenant in the data dir; on PostgreSQL a database per tenant on the core database's
server, created with the server credentials Tenantry already has. A silo's name follows from
its tenant id, so a crash between creating one and recording it never loses track of it."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from cachetools import LRUCache
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from tenantry.storage.database import Store, async_url
from tenantry.storage.migrate import upgrade_tenant_store_async
from tenantry.storage.private_files import private_directory

# PostgreSQL truncates identifiers beyond 63 bytes; "<prefix>_t_<32 hex>" must fit.
_MAX_PREFIX = 63 - len("_t_") - 32
# Silos kept connected per process; the least recently used beyond this are closed.
OPEN_SILOS = 32


def silo_database_prefix(core_database: str) -> str:
    """Silo databases are named after the core database, so two deployments (or a test run)
    sharing one server never meet, and each can find its own."""
    return f"{core_database[:_MAX_PREFIX]}_t_"


class SiloStores:
    def __init__(self, core_url: str, *, data_dir: Path) -> None:
        self._core = make_url(core_url)
        self.dialect = async_url(core_url).get_backend_name()
        self._directory = (data_dir / "silos").resolve()
        self._open: LRUCache[str, Store] = LRUCache(OPEN_SILOS)
        self._lock = asyncio.Lock()

    def locator(self, tenant_id: uuid.UUID) -> str:
        """The connection URL of `tenant_id`'s silo (with credentials: store it sealed)."""
        if self.dialect == "postgresql":
            database = silo_database_prefix(self._core.database or "") + tenant_id.hex
            return self._core.set(database=database).render_as_string(hide_password=False)
        return f"sqlite:///{self._directory / f'{tenant_id}.db'}"

    async def create(self, tenant_id: uuid.UUID) -> str:
        """Create the silo if it is not there yet and bring its schema to the newest revision;
        returns its locator. Safe to repeat."""
        locator = self.locator(tenant_id)
        if self.dialect == "postgresql":
            name = make_url(locator).database
            if not await self._server_has(name):
                await self._on_server(f'CREATE DATABASE "{name}"')
        else:
            private_directory(self._directory)
        await upgrade_tenant_store_async(locator)
        return locator

    async def drop(self, tenant_id: uuid.UUID) -> None:
        """Remove the silo and everything in it; nothing to do if it is already gone."""
        locator = self.locator(tenant_id)
        await self._close(locator)
        if self.dialect == "postgresql":
            name = make_url(locator).database
            await self._on_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        path = Path(make_url(locator).database or "")
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)

    async def exists(self, tenant_id: uuid.UUID) -> bool:
        locator = self.locator(tenant_id)
        if self.dialect == "postgresql":
            return await self._server_has(make_url(locator).database)
        return await asyncio.to_thread(Path(make_url(locator).database or "").exists)

    async def tenant_ids(self) -> set[uuid.UUID]:
        """The tenants that have a silo here (whatever the core database says)."""
        if self.dialect == "postgresql":
            prefix = silo_database_prefix(self._core.database or "")
            names = await self._server_databases(prefix)
            return {uuid.UUID(hex=name.removeprefix(prefix)) for name in names}
        files = await asyncio.to_thread(lambda: list(self._directory.glob("*.db")))
        return {uuid.UUID(path.stem) for path in files}

    async def store(self, locator: str) -> Store:
        """A connected store for a silo, shared by the requests of this process."""
        async with self._lock:
            store = self._open.get(locator)
            evicted = []
            if store is None:
                # Evicted here rather than by the cache, so that it can be disposed of.
                if len(self._open) >= OPEN_SILOS:
                    evicted.append(self._open.popitem()[1])
                store = self._open[locator] = Store(locator, pool_size=2)
        for old in evicted:
            await old.dispose()
        return store

    async def dispose(self) -> None:
        async with self._lock:
            stores, self._open = list(self._open.values()), LRUCache(OPEN_SILOS)
        for store in stores:
            await store.dispose()

    async def _close(self, locator: str) -> None:
        async with self._lock:
            store = self._open.pop(locator, None)
        if store is not None:
            await store.dispose()

    async def _server_has(self, database: str | None) -> bool:
        return database in await self._server_databases(database or "")

    async def _server_databases(self, prefix: str) -> list[str]:
        """The names of the server's databases that start with `prefix`."""
        engine = create_async_engine(async_url(self._core.render_as_string(hide_password=False)))
        try:
            async with engine.connect() as connection:
                names = await connection.scalars(
                    text("SELECT datname FROM pg_database WHERE starts_with(datname, :prefix)"),
                    {"prefix": prefix},
                )
                return list(names)
        finally:
            await engine.dispose()

    async def _on_server(self, statement: str) -> None:
        """Run a statement that PostgreSQL refuses inside a transaction block."""
        engine = create_async_engine(
            async_url(self._core.render_as_string(hide_password=False)),
            isolation_level="AUTOCOMMIT",
        )
        try:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()
