"""The mail worker's retry backoff: doubling from two seconds, capped at thirty minutes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tenantry.domain.mail.worker import backoff

pytestmark = pytest.mark.unit

CAP = timedelta(minutes=30)


def test_backoff_starts_at_two_seconds_and_doubles() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 8)] == [2, 4, 8, 16, 32, 64, 128]


def test_backoff_is_capped_at_thirty_minutes() -> None:
    assert backoff(10) == timedelta(seconds=1024)
    for attempts in (11, 12, 16, 17, 100, 10**6):
        assert backoff(attempts) == CAP


def test_backoff_never_shrinks_and_is_always_positive() -> None:
    delays = [backoff(n) for n in range(0, 200)]
    assert all(delay > timedelta(0) for delay in delays)
    assert delays == sorted(delays)
