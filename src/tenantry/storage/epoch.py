"""The access epoch: a stamp that changes whenever a write could revoke or change what a cached
authorization decision said (sessions, memberships, roles, tenant status, profiles). Processes
cache decisions under the epoch they read *before* loading them, so any later bump makes the
entry stale.

- SQLite (one host): an 8-byte stamp in a memory-mapped file in the data dir; every process sees
  a bump at once, with no database round trip.
- PostgreSQL (many hosts): `pg_notify` inside the writing transaction, delivered at commit to a
  listener in every process. While the listener is down the epoch changes on every read, so
  nothing is served from cache. A notification reaches other processes moments after the
  commit, which can be after the writer has answered; so the processes of one host (`serve
  --workers N`) also share the memory-mapped stamp, which the writer updates before it
  answers. Another host learns of the change when its listener does.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import mmap
import os
import struct
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.storage.hooks import after_commit
from tenantry.storage.private_files import private_directory

log = structlog.get_logger("tenantry.epoch")
CHANNEL = "tenantry_access_epoch"
ACCESS_EPOCH = "access_epoch"
STAMP = struct.Struct("<Q")
LISTENER_RETRY_SECONDS = 1.0
LISTENER_CONNECT_TIMEOUT_SECONDS = 5.0
# Built once and run as Core on the unit of work's connection: this rides along with the
# revocations on the sign-in and refresh paths.
_NOTIFY = text("SELECT pg_notify(:channel, '')")


# Only compared for equality: (the host-local stamp, this process's notification count).
Stamp = tuple[int, int]


class AccessEpoch(Protocol):
    def current(self) -> Stamp: ...

    async def bump(self, session: AsyncSession) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class FileEpoch:
    def __init__(self, path: Path) -> None:
        private_directory(path.parent)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(descriptor).st_size < STAMP.size:
                os.ftruncate(descriptor, STAMP.size)
            self._map = mmap.mmap(descriptor, STAMP.size)
        finally:
            os.close(descriptor)

    def current(self) -> Stamp:
        return (self.local_stamp(), 0)

    def local_stamp(self) -> int:
        value: int = STAMP.unpack_from(self._map)[0]
        return value

    async def bump(self, session: AsyncSession) -> None:
        after_commit(session, self._write_new_stamp)

    def _write_new_stamp(self) -> None:
        # Any different value invalidates; random avoids a read-modify-write race between
        # processes. An aligned 8-byte store is atomic.
        STAMP.pack_into(self._map, 0, int.from_bytes(os.urandom(8), "little"))

    async def start(self) -> None:
        return

    async def stop(self) -> None:
        return


class PostgresEpoch:
    def __init__(self, dsn: str, *, host_local: FileEpoch | None) -> None:
        self._dsn = dsn
        self._host_local = host_local
        self._stamp = 0
        self._listening = False
        self._misses = itertools.count(start=1 << 62)
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()

    def current(self) -> Stamp:
        local = self._host_local.local_stamp() if self._host_local is not None else 0
        return (local, self._stamp if self._listening else next(self._misses))

    async def bump(self, session: AsyncSession) -> None:
        connection = await session.connection()
        await connection.execute(_NOTIFY, {"channel": CHANNEL})
        after_commit(session, self._advance)
        if self._host_local is not None:
            await self._host_local.bump(session)

    def _advance(self, *_args: Any) -> None:
        self._stamp += 1

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="access-epoch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen_forever(self) -> None:
        while True:
            connection = None
            try:
                connection = await asyncpg.connect(
                    self._dsn, timeout=LISTENER_CONNECT_TIMEOUT_SECONDS
                )
                self._lost.clear()
                connection.add_termination_listener(lambda _conn: self._lost.set())
                await connection.add_listener(CHANNEL, self._advance)
                self._advance()  # anything missed while not listening is now stale
                self._listening = True
                await self._lost.wait()
            except Exception as error:  # whatever ended it, listen again: never give up
                log.warning("epoch_listener_down", error=repr(error))
            finally:
                self._listening = False
                if connection is not None:
                    connection.terminate()  # no goodbye to a server that may be gone
            await asyncio.sleep(LISTENER_RETRY_SECONDS)


async def bump_access_epoch(session: AsyncSession) -> None:
    """Mark cached authorization decisions stale once this unit of work commits."""
    epoch: AccessEpoch = session.info[ACCESS_EPOCH]
    await epoch.bump(session)
