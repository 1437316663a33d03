"""Catalogue case 42: which errors mean the database is unavailable (503 with Retry-After) and
which are faults of ours (500), for every shape the drivers raise them in."""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from tenantry.storage.outages import is_outage

pytestmark = [pytest.mark.unit, pytest.mark.catalogue(42)]


def wrapped(orig: Exception, *, invalidated: bool = False) -> DBAPIError:
    """As SQLAlchemy hands a driver error on."""
    return DBAPIError("SELECT 1", None, orig, connection_invalidated=invalidated)


def caused_by(cause: Exception) -> Exception:
    try:
        raise RuntimeError("in the unit of work") from cause
    except RuntimeError as error:
        return error


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError(),
        PoolTimeout("QueuePool limit reached"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        wrapped(asyncpg.CannotConnectNowError("the database system is shutting down")),
        wrapped(asyncpg.AdminShutdownError("terminating connection")),
        wrapped(asyncpg.ConnectionDoesNotExistError("closed in the middle of operation")),
        wrapped(asyncpg.TooManyConnectionsError("too many clients already")),
        wrapped(asyncpg.exceptions.InternalClientError("another operation is in progress")),
        wrapped(ValueError("anything"), invalidated=True),
        caused_by(ConnectionResetError(104, "Connection reset by peer")),
        sqlite3.OperationalError("database is locked"),
    ],
    ids=repr,
)
def test_an_unreachable_busy_or_restarting_database_is_an_outage(error: Exception) -> None:
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("a bug"),
        IntegrityError("INSERT", None, Exception("duplicate key")),
        wrapped(asyncpg.UndefinedFunctionError("function min(uuid) does not exist")),
        wrapped(asyncpg.UniqueViolationError("duplicate key")),
    ],
    ids=repr,
)
def test_a_wrong_statement_is_not_an_outage(error: Exception) -> None:
    assert not is_outage(error)
