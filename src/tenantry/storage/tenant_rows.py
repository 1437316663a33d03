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
# Parents before children. The move fence stays with its store: it is not the tenant's data.
TABLES = [table for table in TenantDataBase.metadata.sorted_tables if table.name != "tenant_fences"]


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


async def delete_rows(store: Store, tenant_id: uuid.UUID, *, keep_fence: bool = False) -> None:
    """Delete the tenant's rows from `store`. `keep_fence`: the store is being left, and its
    raised fence must keep refusing writes that a stale router still sends here."""
    async with store.transaction() as session:
        await delete_rows_in(session, tenant_id, keep_fence=keep_fence)


async def delete_rows_in(
    session: AsyncSession, tenant_id: uuid.UUID, *, keep_fence: bool = False
) -> None:
    """Delete the tenant's rows inside the caller's transaction (children first)."""
    for table in reversed(TABLES if keep_fence else TenantDataBase.metadata.sorted_tables):
        await session.execute(delete(table).where(table.c.tenant_id == tenant_id))
