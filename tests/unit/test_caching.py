"""The per-process epoch cache: bounded, least recently used out first, emptied by a new
epoch."""

from __future__ import annotations

from tenantry.domain.caching import EpochCache, ExpiringCache


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


def test_a_new_epoch_drops_every_entry_of_the_last_one() -> None:
    cache: EpochCache[str, int] = EpochCache()
    for index, key in enumerate("abc"):
        cache.put(key, index, epoch=(0, 0))

    assert cache.get("a", epoch=(7, 0)) is None

    assert len(cache) == 0
    assert cache.get("b", epoch=(0, 0)) is None  # the old epoch never comes back as valid


def test_a_value_loaded_before_a_bump_does_not_outlive_it() -> None:
    cache: EpochCache[str, int] = EpochCache()
    assert cache.get("a", epoch=(1, 0)) is None  # the current epoch, then a bump to (2, 0)
    assert cache.get("b", epoch=(2, 0)) is None
    cache.put("a", 1, epoch=(1, 0))  # loaded under (1, 0), before the bump

    assert cache.get("a", epoch=(2, 0)) is None


def test_expired_entries_are_misses_and_leave_as_new_ones_arrive() -> None:
    cache: ExpiringCache[str, int] = ExpiringCache(max_entries=100)
    cache.put("a", 1, expires_at=10, now=0)
    cache.put("b", 2, expires_at=20, now=0)

    cache.put("c", 3, expires_at=40, now=15)

    assert "a" not in cache  # expired, dropped from the cold end by the put
    assert cache.get("b", now=15) == 2
    assert cache.get("b", now=20) is None
    assert "b" not in cache


def test_expiring_entries_are_bounded_least_recently_used_first() -> None:
    cache: ExpiringCache[str, int] = ExpiringCache(max_entries=2)
    for index, key in enumerate("abc"):
        cache.put(key, index, expires_at=100, now=0)

    assert len(cache) == 2
    assert "a" not in cache
