"""Loading many rows into the core database at once, for the scale-test seed: one transaction
that either loads every table or changes nothing.

PostgreSQL: the transaction locks the tables, drops their foreign keys and plain (non-unique)
indexes, loads with COPY, then recreates every dropped index and foreign key from the
definitions read from the catalog before dropping them (re-creating a foreign key checks every
row with one join, much cheaper than a trigger per loaded row). Primary keys, unique and check
constraints stay in place all along; the tables stay locked (ACCESS EXCLUSIVE) until it
commits. SQLite: one `executemany` transaction whose foreign keys are checked in bulk
(`PRAGMA foreign_key_check`) before it commits."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from tenantry.storage.database import Database

Rows = Iterator[tuple[object, ...]]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class BulkTable:
    """A table to load: its columns and its rows, made for the load's timestamp (a datetime
    on PostgreSQL, SQLAlchemy's text form on SQLite), with their count for the progress."""

    name: str
    columns: Sequence[str]
    rows: Callable[[object], Rows]
    count: int


@dataclass(frozen=True)
class Guard:
    """Load nothing if `table` has a row whose `column` equals `value`."""

    table: str
    column: str
    value: object


class AlreadyLoaded(Exception):
    """The guard's row is there: nothing was loaded."""


class StepTimes:
    """Seconds per named step of a load, each reported to `progress` as it ends."""

    def __init__(self, progress: Progress) -> None:
        self.seconds: dict[str, float] = {}
        self._progress = progress

    @contextmanager
    def step(self, name: str, rows: int | None = None) -> Iterator[None]:
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        counted = f"{rows:,} rows " if rows is not None else ""
        self._progress(f"{name}: {counted}in {seconds:.1f} s")


async def bulk_load(
    db: Database,
    tables: Sequence[BulkTable],
    *,
    guard: Guard,
    stamp: datetime,
    times: StepTimes,
) -> None:
    """Load `tables` in order in one transaction, unless the `guard` row exists
    (`AlreadyLoaded`, nothing changed)."""
    if db.dialect == "postgresql":
        plain = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        await _load_postgres(plain, tables, guard, stamp, times)
    else:
        path = db.url.database or ""
        await asyncio.to_thread(_load_sqlite, path, tables, guard, stamp, times)


# --- PostgreSQL -------------------------------------------------------------------------------

_DROPPABLE = """
SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname,
              pg_get_constraintdef(oid))
FROM pg_constraint
WHERE contype = 'f' AND conrelid = ANY($1::regclass[])
UNION ALL
SELECT format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid = ANY($1::regclass[]) AND NOT i.indisunique AND NOT EXISTS (
    SELECT 1 FROM pg_constraint c
    WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x')
)
"""


async def _load_postgres(
    url: str, tables: Sequence[BulkTable], guard: Guard, stamp: datetime, times: StepTimes
) -> None:
    names = [table.name for table in tables]
    connection: Any = await asyncpg.connect(url)
    try:
        async with connection.transaction():
            await connection.execute("SET LOCAL maintenance_work_mem = '256MB'")
            await connection.execute("SET LOCAL synchronous_commit = off")
            await connection.execute(f"LOCK TABLE {', '.join(names)} IN ACCESS EXCLUSIVE MODE")
            found = f"SELECT 1 FROM {guard.table} WHERE {guard.column} = $1"  # noqa: S608
            if await connection.fetchval(found, guard.value):
                raise AlreadyLoaded
            statements: Sequence[tuple[str, str]] = await connection.fetch(_DROPPABLE, names)
            with times.step(f"drop {len(statements)} foreign keys and plain indexes"):
                for drop, _create in statements:
                    await connection.execute(drop)
            for table in tables:
                with times.step(table.name, table.count):
                    await connection.copy_records_to_table(
                        table.name, records=table.rows(stamp), columns=list(table.columns)
                    )
            # Indexes first: checking a foreign key may use them.
            ordered = sorted(statements, key=lambda pair: not pair[1].startswith("CREATE"))
            for _drop, create in ordered:
                with times.step(create.split(" ON ")[0].split(" REFERENCES ")[0]):
                    await connection.execute(create)
        with times.step("analyze"):
            await connection.execute(f"ANALYZE {', '.join(names)}")
    finally:
        await connection.close()


# --- SQLite -----------------------------------------------------------------------------------


def _load_sqlite(
    path: str, tables: Sequence[BulkTable], guard: Guard, stamp: datetime, times: StepTimes
) -> None:
    # The format SQLAlchemy's SQLite DateTime writes (UTCDateTime stores naive UTC).
    text_stamp = stamp.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    connection = sqlite3.connect(path, isolation_level=None, timeout=30.0)
    try:
        # Checked once, in bulk, before the commit (below) instead of row by row: with tables
        # referring to each other (users and tenants), deferred row checks would scan an
        # unindexed referring column for every row.
        connection.execute("PRAGMA foreign_keys=OFF")
        connection.execute("PRAGMA cache_size=-524288")  # 512 MiB for this load
        connection.execute("BEGIN IMMEDIATE")
        try:
            _load_sqlite_tables(connection, tables, guard, text_stamp, times)
            with times.step("commit"):
                connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
    finally:
        connection.close()


def _load_sqlite_tables(
    connection: sqlite3.Connection,
    tables: Sequence[BulkTable],
    guard: Guard,
    stamp: str,
    times: StepTimes,
) -> None:
    found = f"SELECT 1 FROM {guard.table} WHERE {guard.column} = ?"  # noqa: S608
    if connection.execute(found, (guard.value,)).fetchone():
        raise AlreadyLoaded
    for table in tables:
        with times.step(table.name, table.count):
            placeholders = ", ".join("?" for _ in table.columns)
            columns = ", ".join(table.columns)
            insert = f"INSERT INTO {table.name} ({columns}) VALUES ({placeholders})"  # noqa: S608
            connection.executemany(insert, table.rows(stamp))
    with times.step("foreign key check"):
        for table in tables:
            violation = connection.execute(f"PRAGMA foreign_key_check({table.name})").fetchone()
            if violation is not None:
                raise RuntimeError(f"the load broke a foreign key: {tuple(violation)}")
