"""Test databases: a migrated SQLite template copied per test, and a migrated PostgreSQL
database truncated between tests."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from tenantry.storage.database import Database, async_url
from tenantry.storage.migrate import upgrade_async
from tenantry.storage.models import Base
from tenantry.storage.silos import silo_database_prefix
from tenantry.storage.tenant_models import TenantDataBase


class SqliteDatabases:
    def __init__(self, root: Path) -> None:
        self._root = root
        self._template = root / "template.db"

    async def prepare(self) -> None:
        await upgrade_async(f"sqlite:///{self._template}")

    def fresh(self) -> str:
        path = self._root / f"{uuid.uuid4().hex}.db"
        shutil.copyfile(self._template, path)
        return f"sqlite:///{path}"


class PostgresDatabases:
    def __init__(self, server_url: str) -> None:
        self._server_url = server_url
        self.name = f"tenantry_test_{uuid.uuid4().hex[:12]}"
        self.url = (
            make_url(server_url).set(database=self.name).render_as_string(hide_password=False)
        )

    async def _admin(self, statement: str) -> None:
        engine = create_async_engine(async_url(self._server_url), isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.execute(text(statement))
        await engine.dispose()

    async def prepare(self) -> None:
        await self._admin(f'CREATE DATABASE "{self.name}"')
        await upgrade_async(self.url)

    async def truncate(self) -> None:
        """Empty every table, and drop the silo databases the last test provisioned."""
        everything = [*Base.metadata.sorted_tables, *TenantDataBase.metadata.sorted_tables]
        tables = ", ".join(f'"{table.name}"' for table in everything)
        engine = create_async_engine(async_url(self.url))
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} CASCADE"))
            silos = await connection.scalars(
                text("SELECT datname FROM pg_database WHERE starts_with(datname, :prefix)"),
                {"prefix": silo_database_prefix(self.name)},
            )
            leftovers = list(silos)
        await engine.dispose()
        for silo in leftovers:
            await self._admin(f'DROP DATABASE IF EXISTS "{silo}" WITH (FORCE)')

    def fresh(self) -> str:
        return self.url

    async def drop(self) -> None:
        await self.truncate()
        await self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@asynccontextmanager
async def connected(url: str, count: int) -> AsyncIterator[list[Database]]:
    """`count` connections to the database at `url`, each with its own engine and pool, as
    that many processes would have: their transactions run side by side (PostgreSQL) or take
    turns at SQLite's file lock, never at one process's write turn."""
    async with AsyncExitStack() as stack:
        databases = [Database(url) for _ in range(count)]
        for database in databases:
            stack.push_async_callback(database.dispose)
        yield databases
