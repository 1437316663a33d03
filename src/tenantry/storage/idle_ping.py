"""Ping a PostgreSQL connection on checkout only when it sat idle in the pool. SQLAlchemy's
`pool_pre_ping` pings on every checkout: one more round trip per transaction, of this
process's CPU and the server's (docs/benchmarks.md, "Measured in code"). A
connection in steady use needs no ping: if the server went away under it, the failing
statement answers 503 (storage/outages.py) and SQLAlchemy invalidates every connection the
pool made before the failure. A connection that sat idle may have been cut by a restart, a
failover or a firewall's idle timeout while nothing noticed; that one is pinged, and replaced
if the ping fails, so a quiet deployment's first request does not fail."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

IDLE_BEFORE_PING_SECONDS = 10.0
_CHECKED_IN_AT = "tenantry.checked_in_at"


def ping_idle_connections(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "checkin")
    def _checked_in(_dbapi: Any, record: ConnectionPoolEntry) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _checked_out(
        dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is None or time.monotonic() - checked_in_at < IDLE_BEFORE_PING_SECONDS:
            return  # new, or in steady use
        try:
            alive = sync_engine.dialect.do_ping(dbapi_connection)
        except Exception:  # a connection that cannot answer a ping is no use to anyone
            alive = False
        if not alive:
            # The pool discards this connection and checks out another (a fresh one).
            raise exc.DisconnectionError("an idle connection no longer answers")
