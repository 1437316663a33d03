"""Admission control: at most `width` pieces of one kind of work at a time and `queue` more
waiting; past that, `Busy` at once. Work a flood can ask for in bulk goes through a lane, so
the flood waits in the lane's queue instead of in front of everyone else's requests (the
SQLite write turn, the connection pool, the hashing threads)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tenantry.errors import Busy


class Lane:
    def __init__(self, *, width: int, queue: int) -> None:
        self._slots = asyncio.Semaphore(width)
        self._capacity = width + queue
        self._admitted = 0  # running or waiting

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        # Counted before the first await, so a burst is cut exactly at the capacity.
        if self._admitted >= self._capacity:
            raise Busy("The server is busy. Try again in a moment.", retry_after=1)
        self._admitted += 1
        try:
            async with self._slots:
                yield
        finally:
            self._admitted -= 1
