"""The two migration streams shipped inside the package: the core schema (the core database)
and the tenant data schema (the core database's pool tables and every silo database)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from tenantry.storage.private_files import private_sqlite_file

CORE_MIGRATIONS = Path(__file__).with_name("migrations")
TENANT_MIGRATIONS = Path(__file__).with_name("tenant_migrations")
TENANT_VERSION_TABLE = "tenant_data_version"


def alembic_config(database_url: str, *, scripts: Path = CORE_MIGRATIONS) -> Config:
    config = Config()
    config.set_main_option("script_location", str(scripts))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(slug)s")
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str) -> None:
    """Bring the core database, with its pool tables, to the newest revision (blocking;
    alembic runs its own loop)."""
    command.upgrade(alembic_config(database_url), "head")
    upgrade_tenant_store(database_url)


def upgrade_tenant_store(database_url: str) -> None:
    """Bring one store's tenant data tables (the pool's or a silo's) to the newest revision."""
    command.upgrade(alembic_config(database_url, scripts=TENANT_MIGRATIONS), "head")


async def upgrade_async(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)


async def upgrade_tenant_store_async(database_url: str) -> None:
    await asyncio.to_thread(upgrade_tenant_store, database_url)


def owned_by(metadata: MetaData) -> Callable[[str | None, str, object], bool]:
    """Autogenerate filter: the two streams share the core database; each sees its own tables."""

    def owned(name: str | None, kind: str, _parents: object) -> bool:
        return kind != "table" or name in metadata.tables

    return owned


def run_environment(metadata: MetaData, *, version_table: str) -> None:
    """The body of both streams' `env.py`: migrate the configured database online."""
    # Imported here: the storage package imports this module, and env.py runs inside alembic.
    from tenantry.storage.database import async_url

    config = context.config

    def run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table=version_table,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_name=owned_by(metadata),
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_online() -> None:
        url = async_url(config.attributes["database_url"])
        private_sqlite_file(url)
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            await connection.run_sync(run)
            await connection.commit()
        await engine.dispose()

    asyncio.run(run_online())
