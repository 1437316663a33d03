"""A bounded in-process cache whose entries are valid only under the access epoch they were
loaded in (see `tenantry.storage.epoch`). Least recently used entries go first, so memory stays
flat however many users and tenants the database holds while the hot ones stay cached."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.storage.database import Database
from tenantry.storage.epoch import Stamp

K = TypeVar("K")
V = TypeVar("V")


class EpochCache(Generic[K, V]):
    def __init__(self, *, max_entries: int = 50_000) -> None:
        self._entries: OrderedDict[K, tuple[Stamp, V]] = OrderedDict()
        self._max_entries = max_entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, *, epoch: Stamp) -> V | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != epoch:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: K, value: V, *, epoch: Stamp) -> None:
        """Store `value` as loaded under `epoch` (read *before* loading it)."""
        entries = self._entries
        entries[key] = (epoch, value)
        entries.move_to_end(key)
        if len(entries) > self._max_entries:
            entries.popitem(last=False)


class CachedReader(Generic[K, V]):
    """`load(session, key)` behind an `EpochCache`: for reads on hot paths whose writes bump
    the access epoch (profiles, tenant settings)."""

    def __init__(self, db: Database, load: Callable[[AsyncSession, K], Awaitable[V]]) -> None:
        self._db = db
        self._load = load
        self._cache: EpochCache[K, V] = EpochCache()

    async def get(self, key: K) -> V:
        epoch = self._db.epoch.current()
        value = self._cache.get(key, epoch=epoch)
        if value is None:
            async with self._db.read() as session:
                value = await self._load(session, key)
            self._cache.put(key, value, epoch=epoch)
        return value
