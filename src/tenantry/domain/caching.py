"""A bounded in-process cache whose entries are valid only under the access epoch they were
loaded in (see `tenantry.storage.epoch`). Least recently used entries go first, so memory stays
flat however many users and tenants the database holds while the hot ones stay cached."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from cachetools import LRUCache
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.storage.database import Database
from tenantry.storage.epoch import Stamp

K = TypeVar("K")
V = TypeVar("V")


class EpochCache(Generic[K, V]):
    """Entries loaded under one access epoch. An entry of another epoch can never be valid
    again (the epoch never returns to a past value), so meeting a new epoch drops every entry at
    once: memory holds only what the current epoch can serve, however many users, tokens and
    tenants went through the process before."""

    def __init__(self, *, max_entries: int = 50_000) -> None:
        self._entries: LRUCache[K, V] = LRUCache(maxsize=max_entries)
        self._epoch: Stamp | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, *, epoch: Stamp) -> V | None:
        if epoch != self._epoch:
            self._begin(epoch)
            return None
        return self._entries.get(key)

    def put(self, key: K, value: V, *, epoch: Stamp) -> None:
        """Store `value` as loaded under `epoch` (read *before* loading it). Under an epoch
        already left behind it is kept until the next `get`, which meets the current one."""
        if epoch != self._epoch:
            self._begin(epoch)
        self._entries[key] = value

    def _begin(self, epoch: Stamp) -> None:
        self._entries.clear()
        self._epoch = epoch


class ExpiringCache(Generic[K, V]):
    """Values valid until a known instant (a token's `exp`, in epoch seconds): bounded, least
    recently used out first, and expired entries at the cold end dropped as new ones arrive,
    so a stream of tokens each used a few times holds about one lifetime's worth, not
    `max_entries`. Not cachetools' TLRUCache: its hit, on every bearer-authenticated request,
    costs several times ours (docs/benchmarks.md, "Measured in code"), and it reads the
    time from a timer of its own instead of the caller's `now`."""

    def __init__(self, *, max_entries: int) -> None:
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._max_entries = max_entries

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: K, *, now: int) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= now:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: K, value: V, *, expires_at: int, now: int) -> None:
        entries = self._entries
        entries[key] = (value, expires_at)
        entries.move_to_end(key)
        while entries and next(iter(entries.values()))[1] <= now:
            entries.popitem(last=False)
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
