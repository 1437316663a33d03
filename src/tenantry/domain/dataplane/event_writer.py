"""The batching writer behind `POST /v1/collect`: requests queue their rows, one flusher task
commits them in batches (one transaction per store, a group of statements per tenant), and each
request is answered only once its batch has committed. Batching turns a commit per event into a
commit per few milliseconds, which is what lets one process ingest thousands of events a
second."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.dataplane.units import TenantDataUnavailable
from tenantry.errors import DomainError, Unavailable
from tenantry.storage.database import Store
from tenantry.storage.tenant_models import CollectedEvent, TenantFence
from tenantry.storage.tenant_sessions import enter_tenant

log = structlog.get_logger("tenantry.collect")
MAX_BATCH = 500
MAX_WAIT_SECONDS = 0.005
FLUSHES_IN_FLIGHT = 4


def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


class CollectUnavailable(Unavailable):
    code = "collect_unavailable"
    retry_after = 1


@dataclass(eq=False)
class _Pending:
    tenant_id: uuid.UUID
    row: dict[str, Any]
    done: asyncio.Future[None] = field(default_factory=lambda: _loop().create_future())


class EventWriter:
    """`write(row)` returns once `row` is committed, or raises: CollectUnavailable when
    its batch failed, TenantDataUnavailable while a plan change moves the tenant's data."""

    def __init__(
        self,
        store_of: Callable[[uuid.UUID], Awaitable[Store]],
        *,
        max_batch: int = MAX_BATCH,
        max_wait: float = MAX_WAIT_SECONDS,
    ) -> None:
        self._store_of = store_of
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._slots = asyncio.Semaphore(FLUSHES_IN_FLIGHT)
        self._flushes: set[asyncio.Task[None]] = set()  # referenced until done

    async def write(self, tenant_id: uuid.UUID, row: dict[str, Any]) -> None:
        pending = _Pending(tenant_id, {**row, "tenant_id": tenant_id})
        self._queue.put_nowait(pending)
        await pending.done

    async def run_forever(self) -> None:
        """Flush batches until cancelled; whatever is still queued then fails with
        CollectUnavailable. Up to `FLUSHES_IN_FLIGHT` batches commit at once, so the next one
        gathers during a commit."""
        try:
            while True:
                batch = await self._next_batch()
                await self._slots.acquire()
                flush = asyncio.create_task(self._flush(batch))
                self._flushes.add(flush)
                flush.add_done_callback(self._flushed)
        finally:
            self._fail_queued()

    def _flushed(self, flush: asyncio.Task[None]) -> None:
        self._flushes.discard(flush)
        self._slots.release()

    async def _next_batch(self) -> list[_Pending]:
        """What is queued, up to `max_batch`, once the first event is in: under load the
        commit in flight lets a batch fill; alone, an event waits one loop turn at most
        `max_wait` for company."""
        batch = [await self._queue.get()]
        deadline = asyncio.get_running_loop().time() + self._max_wait
        while len(batch) < self._max_batch:
            if self._queue.empty():
                await asyncio.sleep(0)
                if self._queue.empty() or asyncio.get_running_loop().time() >= deadline:
                    break
            batch.append(self._queue.get_nowait())
        return batch

    async def _flush(self, batch: list[_Pending]) -> None:
        by_store: dict[int, tuple[Store, list[_Pending]]] = {}
        for pending in batch:
            try:
                store = await self._store_of(pending.tenant_id)
            except Exception as error:
                _settle([pending], error)
                continue
            by_store.setdefault(id(store), (store, []))[1].append(pending)
        await asyncio.gather(*(self._commit(store, items) for store, items in by_store.values()))

    async def _commit(self, store: Store, items: list[_Pending]) -> None:
        groups: dict[uuid.UUID, list[_Pending]] = defaultdict(list)
        for pending in items:
            groups[pending.tenant_id].append(pending)
        refused: list[_Pending] = []
        try:
            async with store.transaction() as session:
                moving = await _moving_tenants(session, set(groups), lock=store.dialect != "sqlite")
                for tenant_id, group in groups.items():
                    if tenant_id in moving:
                        refused += group
                        continue
                    if store.dialect == "postgresql":
                        await enter_tenant(session, tenant_id, restricted=False)
                    await session.execute(insert(CollectedEvent), [p.row for p in group])
        except Exception as error:
            log.warning("collect_batch_failed", events=len(items), error=repr(error))
            _settle(items, error)
            return
        refused_ids = {id(pending) for pending in refused}
        _settle(refused, TenantDataUnavailable())
        _settle([pending for pending in items if id(pending) not in refused_ids], None)

    def _fail_queued(self) -> None:
        stopping = CollectUnavailable("The server is stopping; retry.")
        while not self._queue.empty():
            _settle([self._queue.get_nowait()], stopping)


async def _moving_tenants(
    session: AsyncSession, tenant_ids: set[uuid.UUID], *, lock: bool
) -> set[uuid.UUID]:
    """The tenants whose data a plan change is copying out of this store (see
    `tenant_sessions.raise_fence`): their events are refused, not written behind the copy."""
    query = select(TenantFence.tenant_id).where(
        TenantFence.tenant_id.in_(tenant_ids), TenantFence.moving.is_(True)
    )
    return set(await session.scalars(query.with_for_update(read=True) if lock else query))


def _settle(items: list[_Pending], error: BaseException | None) -> None:
    """Answer the waiting requests; an unexpected error becomes a CollectUnavailable to retry."""
    if error is not None and not isinstance(error, DomainError):
        error = CollectUnavailable("The event could not be stored; retry.")
    for pending in items:
        if pending.done.done():
            continue
        if error is None:
            pending.done.set_result(None)
        else:
            pending.done.set_exception(error)
