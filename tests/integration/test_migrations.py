"""The migrations build exactly the schema the models describe, and run down and up again."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from tenantry.storage.database import async_url
from tenantry.storage.migrate import alembic_config, upgrade_async
from tenantry.storage.models import Base

pytestmark = pytest.mark.integration


def _differences(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def _schema_drift(url: str) -> list[object]:
    engine = create_async_engine(async_url(url))
    async with engine.connect() as connection:
        drift = await connection.run_sync(_differences)
    await engine.dispose()
    return drift


async def test_models_match_migrations_and_downgrade_round_trips(database_url: str) -> None:
    assert await _schema_drift(database_url) == []
    config = alembic_config(database_url)
    await asyncio.to_thread(command.downgrade, config, "base")
    await upgrade_async(database_url)
    assert await _schema_drift(database_url) == []
