"""Which errors say the database is out of reach (down, restarting, refusing or dropping
connections, too slow to connect, busy) rather than that a statement was wrong. The transports
answer those with 503 and Retry-After, never 500: the request may be retried as it is."""

from __future__ import annotations

import sqlite3

import asyncpg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# Driver errors, found as the `orig` of SQLAlchemy's wrappers or as causes.
DRIVER_OUTAGES: tuple[type[BaseException], ...] = (
    sqlite3.OperationalError,  # locked by another process past our patience, or unreadable
    OSError,  # refused, reset, unreachable; TimeoutError is one too
    asyncpg.PostgresConnectionError,  # class 08, the connection does not exist or failed
    asyncpg.OperatorInterventionError,  # class 57: shutting down, starting up, cancelled
    asyncpg.InsufficientResourcesError,  # class 53: too many connections, disk full
    asyncpg.InterfaceError,  # the connection is closed
    # asyncpg's state machine, when the server ended the connection mid-statement.
    asyncpg.exceptions.InternalClientError,
)
# SQLAlchemy's own: a pool that gave no connection in time, and the class it gives SQLite's
# locked or unreachable database file.
_STORE_OUTAGES = (PoolTimeout, OperationalError, InterfaceError)
_DEPTH = 5  # how far along the chain of causes to look


def is_outage(error: BaseException) -> bool:
    """Whether `error` (or what caused it) says the database is unavailable."""
    current: BaseException | None = error
    for _ in range(_DEPTH):
        if current is None:
            return False
        if isinstance(current, _STORE_OUTAGES + DRIVER_OUTAGES):
            return True
        if isinstance(current, DBAPIError):
            if current.connection_invalidated:
                return True
            if isinstance(current.orig, DRIVER_OUTAGES):
                return True
        current = current.__cause__
    return False
