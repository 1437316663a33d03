"""PostgreSQL connections are pinged on checkout only after sitting idle (storage/idle_ping.py):
one the server cut while the pool held it is replaced before a request sees it, and one in
steady use costs no extra round trip."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine.interfaces import DBAPIConnection

from tenantry.storage import idle_ping
from tenantry.storage.database import Store

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's connection pool")
    store = Store(database_url, pool_size=1)
    yield store
    await store.dispose()


async def backend_pid(store: Store) -> int:
    async with store.read() as session:
        pid: int = await session.scalar(text("SELECT pg_backend_pid()"))
    return pid


async def terminate(database_url: str, pid: int) -> None:
    plain = database_url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(plain)
    try:
        await connection.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)
    finally:
        await connection.close()


async def test_a_connection_cut_while_idle_is_replaced_before_use(
    store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idle_ping, "IDLE_BEFORE_PING_SECONDS", 0.0)
    first = await backend_pid(store)
    await terminate(database_url, first)  # a restart, a failover, a firewall's idle timeout
    assert await backend_pid(store) != first  # no error reached the caller


async def test_a_connection_in_steady_use_is_not_pinged(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[DBAPIConnection] = []
    dialect = store.engine.sync_engine.dialect
    real_ping = dialect.do_ping

    def counted_ping(connection: DBAPIConnection) -> bool:
        pings.append(connection)
        return real_ping(connection)

    monkeypatch.setattr(dialect, "do_ping", counted_ping)
    for _ in range(5):
        await backend_pid(store)
    assert pings == []
    monkeypatch.setattr(idle_ping, "IDLE_BEFORE_PING_SECONDS", 0.0)
    await backend_pid(store)
    assert len(pings) == 1
