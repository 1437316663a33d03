"""The per-process epoch cache: bounded, least recently used out first."""

from __future__ import annotations

from tenantry.domain.caching import EpochCache


def test_the_least_recently_used_entry_is_evicted_first() -> None:
    cache: EpochCache[str, int] = EpochCache(max_entries=2)
    cache.put("a", 1, epoch=(0, 0))
    cache.put("b", 2, epoch=(0, 0))
    assert cache.get("a", epoch=(0, 0)) == 1  # "b" is now the least recently used

    cache.put("c", 3, epoch=(0, 0))

    assert len(cache) == 2
    assert cache.get("b", epoch=(0, 0)) is None
    assert cache.get("a", epoch=(0, 0)) == 1
    assert cache.get("c", epoch=(0, 0)) == 3


def test_an_entry_from_another_epoch_is_a_miss_and_a_put_replaces_it() -> None:
    cache: EpochCache[str, int] = EpochCache(max_entries=2)
    cache.put("a", 1, epoch=(0, 0))

    assert cache.get("a", epoch=(0, 1)) is None
    cache.put("a", 2, epoch=(0, 1))
    assert len(cache) == 1
    assert cache.get("a", epoch=(0, 1)) == 2
