"""A PostgreSQL server for the suite: `TENANTRY_TEST_DATABASE_URL` if set, else a throwaway
cluster started from the local binaries, else none (the caller decides to skip or fail)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from tests.support.net import free_port

ENV_URL = "TENANTRY_TEST_DATABASE_URL"
StopMode = Literal["smart", "fast", "immediate"]


def _as_postgres_user(command: list[str]) -> list[str]:
    # initdb refuses to run as root.
    if os.geteuid() == 0 and shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *command]
    return command


class Cluster:
    """A cluster of our own in a temporary directory, which a test may stop and start again
    (on the same port) to play a database outage."""

    def __init__(self, initdb: str, pg_ctl: str) -> None:
        self._pg_ctl = pg_ctl
        self.root = Path(tempfile.mkdtemp(prefix="tenantry-pg-"))
        shutil.chown(self.root, "postgres") if os.geteuid() == 0 else None
        self._data, self.port = self.root / "data", free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._run([initdb, "-D", str(self._data), "-A", "trust", "-U", "postgres"])

    def _run(self, command: list[str], *, check: bool = True) -> None:
        subprocess.run(_as_postgres_user(command), check=check, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / "log")
        self._run([self._pg_ctl, "-D", str(self._data), "-o", options, "-w", "start", "-l", log])

    def stop(self, mode: StopMode = "fast", *, check: bool = True) -> None:
        self._run([self._pg_ctl, "-D", str(self._data), "-m", mode, "-w", "stop"], check=check)

    def remove(self) -> None:
        self.stop("immediate", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def controllable_cluster() -> Iterator[Cluster | None]:
    """A started throwaway cluster, or None without PostgreSQL's initdb and pg_ctl."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        yield None
        return
    cluster = Cluster(initdb, pg_ctl)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@contextmanager
def throwaway_cluster() -> Iterator[str | None]:
    with controllable_cluster() as cluster:
        yield cluster.url if cluster is not None else None


@contextmanager
def postgres_server() -> Iterator[str | None]:
    """The base URL of a server to create test databases on, or None."""
    configured = os.environ.get(ENV_URL)
    if configured:
        yield configured
        return
    with throwaway_cluster() as url:
        yield url
