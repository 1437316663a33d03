"""Deleting old rows a batch per transaction, so a large backlog never holds a long write lock
(SQLite has one writer; on PostgreSQL a huge DELETE would bloat and block)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Table, delete, select

from tenantry.storage.database import Store

PURGE_BATCH = 1000


async def delete_in_batches(
    db: Store, table: Table, *where: ColumnElement[bool], batch: int = PURGE_BATCH
) -> int:
    """Delete the rows of `table` (keyed by its single-column primary key) matching `where`,
    `batch` rows per transaction; returns how many went."""
    [key] = table.primary_key.columns
    total = 0
    while True:
        chosen = select(key).where(*where).limit(batch)
        async with db.transaction() as session:
            connection = await session.connection()
            result = await connection.execute(delete(table).where(key.in_(chosen)))
        total += result.rowcount
        if result.rowcount < batch:
            return total
