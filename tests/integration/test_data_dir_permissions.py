"""The data directory is owner-only whatever the umask (issue 18 item 12): under umask 022,
after `tenantry db upgrade` and a real two-worker server, the data dir, the master key, the
SQLite database with its -wal and -shm files, and a silo's directory and files are 0700 and
0600; what an older version left wider is named in a warning at start. SQLite only (the
embedded database is what these files hold)."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from structlog.testing import capture_logs

from tenantry.bootstrap import Container
from tenantry.settings import Settings
from tests.support.api import register
from tests.support.mailbox import Mailbox, SmtpServer
from tests.support.server import running_server, settings_environment

pytestmark = pytest.mark.integration


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture
def embedded(tmp_path: Path, smtp_server: SmtpServer) -> Settings:
    """The zero-configuration setup: SQLite and a generated master key in the data dir."""
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        smtp_url=f"smtp://127.0.0.1:{smtp_server.port}",
        public_url="http://testserver",
        argon2_memory_kib=8192,
        argon2_time_cost=1,
    )


def not_owner_only(root: Path) -> dict[str, str]:
    """Every path under `root` (itself included, as ".") with its mode, when that is not
    0700 for a directory or 0600 for a file."""
    found = {}
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        if stat.S_IMODE(mode) != (0o700 if stat.S_ISDIR(mode) else 0o600):
            found[str(path.relative_to(root))] = oct(stat.S_IMODE(mode))
    return found


def names(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


async def test_a_server_under_umask_022_keeps_everything_owner_only(
    embedded: Settings, mailbox: Mailbox, umask_022: None
) -> None:
    data = embedded.data_dir
    environment = {**os.environ, **settings_environment(embedded)}
    upgrade = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tenantry", "db", "upgrade", env=environment
    )
    assert await upgrade.wait() == 0
    with running_server(embedded, workers=2) as base:
        async with httpx.AsyncClient(base_url=base) as api:
            carol = await register(api, mailbox, "carol@example.com")
        assert {"master.key", "tenantry.db", "tenantry.db-wal", "tenantry.db-shm"} <= names(data)
        assert not_owner_only(data) == {}

    container = Container(embedded)
    await container.start(migrate=False)
    try:
        tenant = uuid.UUID(carol.tenant_id)
        await container.plan_changes.change_plan(
            tenant_id=tenant, plan=container.plans.get("premium"), actor_id=None
        )
        assert {"silos", f"silos/{tenant}.db"} <= names(data)
        assert not_owner_only(data) == {}
    finally:
        await container.stop()


async def test_wider_files_left_in_the_data_dir_are_named_at_start(
    embedded: Settings, umask_022: None
) -> None:
    data = embedded.data_dir
    data.mkdir(mode=0o755)
    (data / "tenantry.db").touch(mode=0o644)
    (data / "silos").mkdir(mode=0o700)
    (data / "silos" / "old.db").touch(mode=0o600)
    with capture_logs() as logs:
        container = Container(embedded)
    await container.stop()
    [warning] = [entry for entry in logs if entry["event"] == "data_dir_permissions_too_wide"]
    assert warning["log_level"] == "warning"
    assert warning["paths"] == [str(data), str(data / "tenantry.db")]
