"""Outbox events are kept for a while after they were fanned out, so their deliveries can
be listed and redelivered; then they go, with their deliveries and attempts."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select

from tenantry.storage.database import Database
from tenantry.storage.models import DomainEvent, WebhookDelivery

EVENT_RETENTION = timedelta(days=30)
PURGE_BATCH = 1000


async def purge_settled_events(db: Database, *, now: datetime) -> int:
    """Delete dispatched events older than the retention whose deliveries have all settled,
    a batch per transaction; returns how many went."""
    cutoff = now - EVENT_RETENTION
    unsettled = exists().where(
        WebhookDelivery.event_id == DomainEvent.id, WebhookDelivery.status == "pending"
    )
    purged = 0
    while True:
        batch = (
            select(DomainEvent.id)
            .where(
                DomainEvent.dispatched_at.is_not(None),
                DomainEvent.created_at < cutoff,
                ~unsettled,
            )
            .limit(PURGE_BATCH)
        )
        async with db.transaction() as session:
            result = await session.execute(
                delete(DomainEvent)
                .where(DomainEvent.id.in_(batch.scalar_subquery()))
                .returning(DomainEvent.id)
            )
            count = len(result.all())
        purged += count
        if count < PURGE_BATCH:
            return purged
