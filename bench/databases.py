"""Throwaway databases: a SQLite file in a temporary directory, or a `bench_*` database
created on the PostgreSQL server and dropped afterwards."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url


class BackendUnavailable(Exception):
    """The backend cannot be reached; the benchmark skips it."""


@contextmanager
def bench_database(backend: str, *, tag: str, workdir: Path, postgres_url: str) -> Iterator[str]:
    """Yield a plain database URL (`sqlite:///...` or `postgresql://...`) for an empty
    database that lives as long as the context."""
    if backend == "sqlite":
        yield f"sqlite:///{(workdir / 'tenantry.db').resolve()}"
        return
    name = f"bench_{tag}_{os.getpid()}"
    server = make_url(postgres_url)
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        connection = psycopg.connect(admin, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        raise BackendUnavailable(f"PostgreSQL at {server.host}:{server.port}: {error}") from error
    with connection:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        connection.execute(drop)
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            connection.execute(drop)
            drop_silos(connection, name)


def drop_silos(connection: psycopg.Connection[tuple[object, ...]], name: str) -> None:
    """Drop the silo tenants' databases the server created next to `name` (`<name>_t_<id>`,
    e.g. in bench.router)."""
    pattern = name.replace("_", "\\_") + "\\_t\\_%"
    rows = connection.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s", (pattern,)
    ).fetchall()
    for (silo,) in rows:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(str(silo)))
        )


def with_driver(url: str, driver: str) -> str:
    """`url` with an explicit SQLAlchemy driver, e.g. `postgresql+psycopg`."""
    return make_url(url).set(drivername=driver).render_as_string(hide_password=False)
