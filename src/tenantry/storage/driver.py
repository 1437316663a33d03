"""The database driver's own connection (`sqlite3`, asyncpg), for the few statements whose cost
through SQLAlchemy's execution layer is most of their cost, as for the refresh-token rotation
(docs/benchmarks.md, "Measured in code"). Connections still come from the engine's pool, so
its limits, pre-ping and disposal apply; driver failures surface as SQLAlchemy's
`OperationalError`, which the transports answer with 503 like every other storage outage."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import asyncpg
from sqlalchemy.exc import OperationalError

from tenantry.storage import sqlite_inline

if TYPE_CHECKING:
    from tenantry.storage.database import Store

# Errors that say the database is out of reach or busy, not that a statement is wrong.
_OUTAGES: tuple[type[BaseException], ...] = (
    sqlite3.OperationalError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.OperatorInterventionError,  # shutting down, starting up
    OSError,
    TimeoutError,
)


@asynccontextmanager
async def sqlite_write(store: Store) -> AsyncIterator[sqlite3.Connection]:
    """A `sqlite3` connection inside BEGIN IMMEDIATE, in the store's turn for writes:
    committed when the block ends, rolled back if it raises."""
    async with store.write_turn() as deadline, store.engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert isinstance(driver, sqlite_inline.InlineConnection)
        raw = driver.sqlite3
        try:
            await sqlite_inline.when_unlocked(driver.begin_write, deadline=deadline)
            yield raw
        except _OUTAGES as error:
            raw.rollback()
            raise _outage(error) from error
        except BaseException:
            raw.rollback()
            raise
        raw.commit()


@asynccontextmanager
async def postgres_connection(store: Store) -> AsyncIterator[Any]:
    """An asyncpg connection in autocommit: each statement is its own transaction. A
    connection that failed is dropped from the pool rather than handed out again."""
    async with store.engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        try:
            yield driver
        except _OUTAGES as error:
            await connection.invalidate()
            raise _outage(error) from error


def _outage(error: BaseException) -> OperationalError:
    return OperationalError("(driver statement)", None, error)
