"""The audit log's retention (`TENANTRY_AUDIT_RETENTION_DAYS`): older entries are deleted by
the container's hourly purge."""

from __future__ import annotations

from datetime import datetime

from tenantry.domain.audit.entries import AUDIT_ENTRIES
from tenantry.storage.database import Store
from tenantry.storage.purging import PURGE_BATCH, delete_in_batches


async def purge_audit_entries(db: Store, *, before: datetime, batch: int = PURGE_BATCH) -> int:
    """Delete the entries written before `before`; returns how many went."""
    condition = AUDIT_ENTRIES.c.created_at < before
    return await delete_in_batches(db, AUDIT_ENTRIES, condition, batch=batch)
