"""Catalogue case 44, in short: the soak of `make soak` (bench/soak.py) for 20 seconds instead of
ten minutes, with lifetimes short enough for the purge to act within them. A real server
process, real SMTP, both databases: no request fails and no spent credential outlives what
retention allows. Latency and memory targets need the long run (`make soak`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.server import Deployment
from bench.soak import Lifetimes, soak

pytestmark = pytest.mark.integration

SECONDS = 20.0
PERIOD = 5.0
# Logged-out sessions may go 2 s after the logout, lockout windows 5 s after they open; a purge
# every 2 s. Sessions left to expire outlive the run (300 s is the shortest refresh lifetime).
BRIEF = Lifetimes(login_failure_window=5, credential_grace=2, purge_interval=2)


@pytest.mark.catalogue(44)
async def test_a_short_soak_has_no_errors_and_purges_spent_credentials(
    database_url: str, tmp_path: Path
) -> None:
    run = await soak(
        Deployment(database_url, tmp_path),
        duration=SECONDS,
        interval=PERIOD,
        users=3,
        lifetimes=BRIEF,
    )
    assert run.failures == []
    assert run.errors == 0
    assert run.requests > 0
    assert run.most_overdue == 0
    # some sessions were logged out and then purged
    assert 0 < run.periods[-1].sample.rows["sessions"] < run.sessions_opened
