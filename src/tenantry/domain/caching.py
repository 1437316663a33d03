"""A bounded in-process cache whose entries are valid only under the access epoch they were
loaded in (see `tenantry.storage.epoch`)."""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class EpochCache(Generic[K, V]):
    def __init__(self, *, max_entries: int = 50_000) -> None:
        self._entries: dict[K, tuple[int, V]] = {}
        self._max_entries = max_entries

    def get(self, key: K, *, epoch: int) -> V | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != epoch:
            return None
        return entry[1]

    def put(self, key: K, value: V, *, epoch: int) -> None:
        """Store `value` as loaded under `epoch` (read *before* loading it)."""
        if len(self._entries) >= self._max_entries:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (epoch, value)
