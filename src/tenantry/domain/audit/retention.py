"""The audit log's retention (`TENANTRY_AUDIT_RETENTION_DAYS`): older entries are deleted by
the container's hourly purge."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from tenantry.domain.audit.entries import AUDIT_ENTRIES
from tenantry.storage.database import Store

PURGE_BATCH = 1000


async def purge_audit_entries(db: Store, *, before: datetime, batch: int = PURGE_BATCH) -> int:
    """Delete the entries written before `before`, `batch` rows per transaction so a large
    backlog never holds a long write lock; returns how many went."""
    total = 0
    while True:
        oldest = select(AUDIT_ENTRIES.c.id).where(AUDIT_ENTRIES.c.created_at < before).limit(batch)
        async with db.transaction() as session:
            connection = await session.connection()
            result = await connection.execute(
                delete(AUDIT_ENTRIES).where(AUDIT_ENTRIES.c.id.in_(oldest))
            )
        total += result.rowcount
        if result.rowcount < batch:
            return total
