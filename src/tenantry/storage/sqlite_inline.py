"""An aiosqlite-shaped driver that runs `sqlite3` calls inline on the event loop.

aiosqlite sends every call (BEGIN, execute, fetch, COMMIT) to a worker thread and back, and
those hops cost far more CPU than SQLite's own answer to an indexed WAL read; running the calls
inline is the measured difference in docs/benchmarks.md's optimizations. It is safe because WAL
readers never wait and `Database` admits one write transaction per process at a time (an asyncio
lock), so the loop never blocks on its own lock. Another process's write lock is not waited for
in SQLite's busy handler either, which would stop the loop for as long as that process holds it:
a write transaction gives up at once (`begin`) and `when_unlocked` tries again from the loop,
for a bounded time, after which the caller answers 503.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
BUSY_TIMEOUT_MS = 10_000  # statements other than taking the write lock (`begin`)
WRITE_LOCK_PATIENCE_SECONDS = 3.0
_LONGEST_PAUSE_SECONDS = 0.05


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> InlineCursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> InlineCursor:
        self._cursor.executemany(sql, rows)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        # SQLAlchemy's adapter checks this attribute to know the connection is open.
        self._connection: sqlite3.Connection | None = connection

    @property
    def sqlite3(self) -> sqlite3.Connection:
        """The `sqlite3` connection itself, for statements run without SQLAlchemy
        (`storage/driver.py`)."""
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    def begin(self, *, immediate: bool) -> None:
        """Open a transaction straight on `sqlite3`: `Database` calls this from SQLAlchemy's
        `begin` event, where a Core `exec_driver_sql` would cost more than the transaction.
        A write transaction never waits for another process's write lock: "database is locked"
        at once, for `when_unlocked` to wait on the event loop."""
        if not immediate:
            self._conn.execute("BEGIN")
            return
        self._conn.execute("PRAGMA busy_timeout=0")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        finally:
            self._conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    async def begin_write(self) -> None:
        """`begin` a write transaction, shaped for `when_unlocked`."""
        self.begin(immediate=True)

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()


async def connect(path: str) -> InlineConnection:
    """A connection in autocommit mode; `Database` issues BEGIN itself."""
    return InlineConnection(
        sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
    )


def is_locked(error: sqlite3.Error) -> bool:
    """Whether `error` is another connection's lock, not a fault of the statement."""
    return getattr(error, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


async def when_unlocked(attempt: Callable[[], Awaitable[T]], *, deadline: float) -> T:
    """Run `attempt`, which takes the write lock without waiting (`begin`), until no other
    process holds the lock: the loop serves other requests meanwhile. Past `deadline` (loop
    time) the last "database is locked" is raised, which the transports answer with 503.
    Not tenacity's AsyncRetrying: it runs on every write transaction and cost far more than
    this loop when the first try succeeds, as it nearly always does (docs/benchmarks.md,
    "Measured in code")."""
    loop = asyncio.get_running_loop()
    pause = 0.001
    while True:
        try:
            return await attempt()
        except sqlite3.OperationalError as error:
            if not is_locked(error) or loop.time() + pause > deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(2 * pause, _LONGEST_PAUSE_SECONDS)
