"""Fixtures: every storage-backed test runs on SQLite and on PostgreSQL, with a real SMTP
server in process."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import hypothesis
import pytest

from tenantry.bootstrap import Container
from tenantry.settings import Settings
from tenantry.storage.database import Database
from tenantry.transports.rest.app import create_app
from tests.support.clock import ShiftableClock
from tests.support.databases import PostgresDatabases, SqliteDatabases, connected
from tests.support.mailbox import Mailbox, SmtpServer
from tests.support.postgres import ENV_URL, postgres_server

# CI runs the same examples every time (a random input found there would block a landing for
# a bug the change did not make); developers' runs keep exploring new ones.
hypothesis.settings.register_profile("ci", derandomize=True)
if os.environ.get("CI") == "true":
    hypothesis.settings.load_profile("ci")

BACKENDS = ["sqlite", "postgresql"]
NO_POSTGRES = (
    f"PostgreSQL tests SKIPPED: set {ENV_URL} or install PostgreSQL's initdb/pg_ctl. "
    "Under CI=true this is a failure."
)


@pytest.fixture(scope="session")
def postgres_base_url() -> Iterator[str | None]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session", params=BACKENDS)
async def databases(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_base_url: str | None,
) -> AsyncIterator[SqliteDatabases | PostgresDatabases]:
    if request.param == "sqlite":
        sqlite = SqliteDatabases(tmp_path_factory.mktemp("sqlite"))
        await sqlite.prepare()
        yield sqlite
        return
    if postgres_base_url is None:
        if os.environ.get("CI") == "true":
            pytest.fail(NO_POSTGRES)
        pytest.skip(NO_POSTGRES)
    postgres = PostgresDatabases(postgres_base_url)
    await postgres.prepare()
    yield postgres
    await postgres.drop()


@pytest.fixture
async def database_url(databases: SqliteDatabases | PostgresDatabases) -> str:
    if isinstance(databases, PostgresDatabases):
        await databases.truncate()
    return databases.fresh()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The test database itself, for tests of storage code without a container."""
    async with connected(database_url, 1) as (database,):
        yield database


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(smtp_server: SmtpServer) -> Mailbox:
    smtp_server.mailbox.clear()
    smtp_server.mailbox.refuse = False
    return smtp_server.mailbox


@pytest.fixture
def clock() -> ShiftableClock:
    return ShiftableClock()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, smtp_server: SmtpServer) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        data_dir=tmp_path / "data",
        smtp_url=f"smtp://127.0.0.1:{smtp_server.port}",
        public_url="http://testserver",
        master_key="test-master-key",
        argon2_memory_kib=8192,
        argon2_time_cost=1,
        # Every test client is one address; the tests of these allowances set their own.
        client_hash_limit=100_000,
        registration_client_limit=100_000,
    )


@pytest.fixture
async def container(settings: Settings, clock: ShiftableClock) -> AsyncIterator[Container]:
    container = Container(settings, clock=clock)
    await container.start(migrate=False)
    yield container
    await container.stop()


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
