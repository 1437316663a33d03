"""Looking for a tenant's silo the way an operator would: the file on disk, or the database on
the PostgreSQL server, without going through the code under test."""

from __future__ import annotations

import uuid

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from tenantry.bootstrap import Container
from tenantry.storage.database import async_url
from tenantry.storage.silos import silo_database_prefix


async def postgres_silos(container: Container) -> list[str]:
    """The silo databases of this deployment on its PostgreSQL server (none on SQLite)."""
    url = make_url(container.settings.effective_database_url)
    if url.get_backend_name() == "sqlite":
        return []
    engine = create_async_engine(async_url(url.render_as_string(hide_password=False)))
    async with engine.connect() as connection:
        names = await connection.scalars(
            text("SELECT datname FROM pg_database WHERE starts_with(datname, :prefix)"),
            {"prefix": silo_database_prefix(url.database or "")},
        )
        found = list(names)
    await engine.dispose()
    return found


async def silo_present(container: Container, tenant_id: uuid.UUID | str) -> bool:
    tenant = uuid.UUID(str(tenant_id))
    url = make_url(container.settings.effective_database_url)
    if url.get_backend_name() == "sqlite":
        return (container.settings.data_dir / "silos" / f"{tenant}.db").exists()
    engine = create_async_engine(async_url(url.render_as_string(hide_password=False)))
    async with engine.connect() as connection:
        found = await connection.scalar(
            text("SELECT count(*) FROM pg_database WHERE datname LIKE :pattern"),
            {"pattern": f"%\\_t\\_{tenant.hex}"},
        )
    await engine.dispose()
    return bool(found)
