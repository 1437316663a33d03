"""A bounded in-process cache whose entries are valid only under the access epoch they were
loaded in (see `tenantry.storage.epoch`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.storage.database import Database
from tenantry.storage.epoch import Stamp

K = TypeVar("K")
V = TypeVar("V")


class EpochCache(Generic[K, V]):
    def __init__(self, *, max_entries: int = 50_000) -> None:
        self._entries: dict[K, tuple[Stamp, V]] = {}
        self._max_entries = max_entries

    def get(self, key: K, *, epoch: Stamp) -> V | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != epoch:
            return None
        return entry[1]

    def put(self, key: K, value: V, *, epoch: Stamp) -> None:
        """Store `value` as loaded under `epoch` (read *before* loading it)."""
        if len(self._entries) >= self._max_entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (epoch, value)


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
