"""Bulk operations on one tenant's rows of the tenant data schema, in whichever store holds
them: counting, copying to another store, deleting. Used to move a tenant between the pool
and a silo and to delete a tenant's data."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.storage.database import Store
from tenantry.storage.tenant_models import TenantDataBase

BATCH = 1000
TABLES = TenantDataBase.metadata.sorted_tables  # parents before children


async def count_rows(store: Store, tenant_id: uuid.UUID) -> dict[str, int]:
    async with store.read() as session:
        return {
            table.name: await session.scalar(
                select(func.count()).select_from(table).where(table.c.tenant_id == tenant_id)
            )
            or 0
            for table in TABLES
        }


async def copy_rows(source: Store, target: Store, tenant_id: uuid.UUID) -> dict[str, int]:
    """Copy the tenant's rows from `source` into `target` in one target transaction; the rows
    copied per table."""
    copied: dict[str, int] = {}
    async with source.read() as reading, target.transaction() as writing:
        for table in TABLES:
            result = await reading.execute(select(table).where(table.c.tenant_id == tenant_id))
            copied[table.name] = 0
            for batch in result.mappings().partitions(BATCH):
                await writing.execute(insert(table), [dict(row) for row in batch])
                copied[table.name] += len(batch)
    return copied


async def delete_rows(store: Store, tenant_id: uuid.UUID) -> None:
    async with store.transaction() as session:
        await delete_rows_in(session, tenant_id)


async def delete_rows_in(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Delete the tenant's rows inside the caller's transaction (children first)."""
    for table in reversed(TABLES):
        await session.execute(delete(table).where(table.c.tenant_id == tenant_id))
