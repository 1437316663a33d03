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

from tests.support.net import free_port

ENV_URL = "TENANTRY_TEST_DATABASE_URL"


def _as_postgres_user(command: list[str]) -> list[str]:
    # initdb refuses to run as root.
    if os.geteuid() == 0 and shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@contextmanager
def throwaway_cluster() -> Iterator[str | None]:
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="tenantry-pg-"))
    shutil.chown(root, "postgres") if os.geteuid() == 0 else None
    data, port = root / "data", free_port()
    subprocess.run(
        _as_postgres_user([initdb, "-D", str(data), "-A", "trust", "-U", "postgres"]),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        _as_postgres_user(
            [pg_ctl, "-D", str(data), "-o", options, "-w", "start", "-l", str(root / "log")]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[str | None]:
    """The base URL of a server to create test databases on, or None."""
    configured = os.environ.get(ENV_URL)
    if configured:
        yield configured
        return
    with throwaway_cluster() as url:
        yield url
