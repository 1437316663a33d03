"""The migrations build exactly the schema the models describe, and run down and up again."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from tenantry.storage.database import async_url
from tenantry.storage.migrate import TENANT_MIGRATIONS, alembic_config, upgrade_async
from tenantry.storage.models import Base
from tenantry.storage.tenant_models import TenantDataBase

pytestmark = pytest.mark.integration


def _differences(connection: Connection) -> list[object]:
    """Drift of both streams' tables; each compared only with the tables its metadata owns."""
    drift: list[object] = []
    for metadata in (Base.metadata, TenantDataBase.metadata):
        drift += compare_metadata(_context(connection, metadata), metadata)
    return drift


def _context(connection: Connection, metadata: MetaData) -> MigrationContext:
    def owned(name: str | None, kind: str, _parents: object) -> bool:
        return kind != "table" or name in metadata.tables

    return MigrationContext.configure(connection, opts={"include_name": owned})


async def _schema_drift(url: str) -> list[object]:
    engine = create_async_engine(async_url(url))
    async with engine.connect() as connection:
        drift = await connection.run_sync(_differences)
    await engine.dispose()
    return drift


async def test_models_match_migrations_and_downgrade_round_trips(database_url: str) -> None:
    assert await _schema_drift(database_url) == []
    tenant_stream = alembic_config(database_url, scripts=TENANT_MIGRATIONS)
    await asyncio.to_thread(command.downgrade, tenant_stream, "base")
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "base")
    await upgrade_async(database_url)
    assert await _schema_drift(database_url) == []
