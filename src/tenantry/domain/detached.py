"""Work a flow starts and does not wait for: what only one branch of an answer would do (the
audit entry of a failed sign-in with a known address, the code mailed to a known address), so
that the answer costs the same whichever branch was taken. A crash may lose such work before it
runs; it is never work the answer promised."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from contextvars import Context, copy_context
from typing import Any

import structlog

log = structlog.get_logger("tenantry.detached")


class Detached:
    """Runs the work in the order it was started, one piece at a time: two codes asked for in
    a row are made, and so superseded and mailed, in that order."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[Coroutine[Any, Any, None], str, Context]] = asyncio.Queue()
        self._runner: asyncio.Task[None] | None = None

    def spawn(self, work: Coroutine[Any, Any, None], *, name: str) -> None:
        """Queue `work`, to run in the caller's context (its request's audit origin); a
        failure is logged, never raised to anyone."""
        self._queue.put_nowait((work, name, copy_context()))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name="detached-work")

    async def _run(self) -> None:
        while not self._queue.empty():
            work, name, context = self._queue.get_nowait()
            try:
                await asyncio.create_task(work, name=name, context=context)
            except Exception:
                log.exception("detached_work_failed", work=name)
            finally:
                self._queue.task_done()

    async def settle(self) -> None:
        """Wait for the work started so far (shutdown, and tests that read its effects)."""
        await self._queue.join()
