"""Statements on the driver's own connection (storage/driver.py): SQLite writes commit or roll
back as a whole, and a failing database is a storage outage (the transports' 503) that the
next statement recovers from."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from tenantry.storage.database import Store
from tenantry.storage.driver import postgres_connection, sqlite_write

pytestmark = pytest.mark.integration


async def sqlite_rows(store: Store) -> list[str]:
    async with store.read() as session:
        return list(await session.scalars(text("SELECT name FROM driver_probe ORDER BY name")))


async def test_sqlite_writes_commit_whole_or_roll_back(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write path")
    store = Store(database_url)
    try:
        async with sqlite_write(store) as connection:
            connection.execute("CREATE TABLE driver_probe (name TEXT)")
            connection.execute("INSERT INTO driver_probe VALUES ('kept')")
        with pytest.raises(ValueError, match="changed my mind"):
            async with sqlite_write(store) as connection:
                connection.execute("INSERT INTO driver_probe VALUES ('dropped')")
                raise ValueError("changed my mind")
        with pytest.raises(OperationalError):
            async with sqlite_write(store) as connection:
                connection.execute("INSERT INTO driver_probe VALUES ('dropped too')")
                connection.execute("SELECT * FROM no_such_table")
        assert await sqlite_rows(store) == ["kept"]
    finally:
        await store.dispose()


async def test_a_postgres_connection_lost_mid_statement_is_an_outage_and_the_next_works(
    database_url: str,
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's connection")
    store = Store(database_url, pool_size=1)
    try:
        with pytest.raises(OperationalError):
            async with postgres_connection(store) as connection:
                pid = await connection.fetchval("SELECT pg_backend_pid()")
                async with store.engine.connect() as other:
                    # waits (up to 5 s) until the backend has gone
                    await other.execute(text(f"SELECT pg_terminate_backend({int(pid)}, 5000)"))
                await connection.fetchval("SELECT 1")
        async with postgres_connection(store) as connection:
            assert await connection.fetchval("SELECT pg_backend_pid()") != pid
    finally:
        await store.dispose()
