"""Engines and units of work for SQLite (embedded) and PostgreSQL: the core database and the
tenants' silo stores."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from tenantry.storage import sqlite_inline
from tenantry.storage.epoch import ACCESS_EPOCH, AccessEpoch, FileEpoch, PostgresEpoch
from tenantry.storage.hooks import run_after_commit
from tenantry.storage.idle_ping import ping_idle_connections
from tenantry.storage.private_files import private_sqlite_file

# A connection not established in this time, or none free in the pool, is an outage.
CONNECT_TIMEOUT_SECONDS = 5.0
POOL_WAIT_SECONDS = 5.0


def async_url(url: str) -> URL:
    """Accept plain `sqlite:///` and `postgresql://` URLs, or ones naming another driver
    (`postgresql+psycopg2://` from a Django or Heroku setting), and pick the async driver the
    storage layer is written for: aiosqlite and asyncpg (the rotation, the epoch listener and
    the connect timeout speak asyncpg)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    return parsed


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL for concurrent readers, enforced foreign keys, and write transactions that take the
    write lock up front (BEGIN IMMEDIATE) so two writers never deadlock on a lock upgrade."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={sqlite_inline.BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("tenantry_write", False)
        driver = connection.connection.driver_connection
        if isinstance(driver, sqlite_inline.InlineConnection):
            driver.begin(immediate=immediate)  # no Core statement execution: a hot path
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Store:
    """Owns an engine and hands out units of work: `transaction()` for writes, `read()` for
    reads. Services never commit; the unit of work does, then runs its after-commit hooks."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = async_url(url)
        self.dialect = self.url.get_backend_name()
        options: dict[str, Any] = {}
        if self.dialect == "postgresql":
            options = {
                "pool_size": pool_size,
                "max_overflow": pool_size,
                # Pinged on checkout only after sitting idle (storage/idle_ping.py).
                "pool_pre_ping": False,
                # Fail fast rather than hang when the server is unreachable or saturated:
                # both end as 503 with Retry-After (storage/outages.py).
                "pool_timeout": POOL_WAIT_SECONDS,
                "connect_args": {"timeout": CONNECT_TIMEOUT_SECONDS},
            }
        else:
            path = self.url.database or ""
            private_sqlite_file(self.url)
            options = {"async_creator": lambda: sqlite_inline.connect(path)}
        # One write transaction at a time per process on SQLite: the file has one writer
        # anyway, and waiting here (asyncio) beats SQLite's sleeping busy handler.
        self._write_lock = asyncio.Lock() if self.dialect == "sqlite" else None
        self.engine = create_async_engine(self.url, **options)
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        else:
            ping_idle_connections(self.engine)
        write_engine = self.engine.execution_options(tenantry_write=True)
        self._writer = async_sessionmaker(write_engine, expire_on_commit=False)
        self._reader = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One write transaction: commits on success, rolls back on any error."""
        if self._write_lock is None:  # PostgreSQL: no turn to take
            async with self._writer() as session, session.begin():
                self._prepare(session)
                yield session
        else:
            async with self.write_turn() as deadline, AsyncExitStack() as stack:
                session = await sqlite_inline.when_unlocked(
                    partial(self._begin_write, stack), deadline=deadline
                )
                self._prepare(session)
                yield session
        run_after_commit(session)

    async def _begin_write(self, stack: AsyncExitStack) -> AsyncSession:
        """A write session whose transaction has begun, so holds SQLite's write lock; handed
        to `stack` to end. Taking the lock fails at once while another process holds it."""
        async with AsyncExitStack() as attempt:
            session = await attempt.enter_async_context(self._writer())
            await attempt.enter_async_context(session.begin())
            await session.connection()  # BEGIN IMMEDIATE
            stack.push_async_exit(attempt.pop_all())
        return session

    def _prepare(self, session: AsyncSession) -> None:
        """Hook for subclasses: equip a write session before the work runs."""

    @asynccontextmanager
    async def write_turn(self) -> AsyncIterator[float]:
        """Hold while writing: one write transaction at a time per process on SQLite. Yields
        the time by which SQLite's write lock must be had (`sqlite_inline.when_unlocked`); the
        wait for this turn counts, so writers queued behind a locked file fail fast together
        rather than one patience after another."""
        patience = sqlite_inline.WRITE_LOCK_PATIENCE_SECONDS
        deadline = asyncio.get_running_loop().time() + patience
        if self._write_lock is None:
            yield deadline
            return
        try:
            async with asyncio.timeout_at(deadline):
                await self._write_lock.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked: no write turn in time") from None
        try:
            yield deadline
        finally:
            self._write_lock.release()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._reader() as session, session.begin():
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


class Database(Store):
    """The core database: a store that also carries the access epoch, bumped by writes that
    change who may do what."""

    def __init__(self, url: str, *, pool_size: int = 10, data_dir: Path | None = None) -> None:
        """`data_dir`: where the processes of this host share the access epoch on PostgreSQL
        (SQLite keeps it beside the database file)."""
        super().__init__(url, pool_size=pool_size)
        self.epoch = _access_epoch(self.url, data_dir)

    def _prepare(self, session: AsyncSession) -> None:
        session.info[ACCESS_EPOCH] = self.epoch


def _access_epoch(url: URL, data_dir: Path | None) -> AccessEpoch:
    if url.get_backend_name() == "postgresql":
        plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
        # One stamp file per database: servers of other databases on this host stay apart.
        name = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()
        host_local = FileEpoch(data_dir / f"epoch-{name[:16]}") if data_dir else None
        return PostgresEpoch(plain, host_local=host_local)
    database = url.database or ""
    if not database or database == ":memory:":
        raise ValueError("Tenantry needs a SQLite file, not an in-memory database")
    return FileEpoch(Path(f"{database}.epoch"))
