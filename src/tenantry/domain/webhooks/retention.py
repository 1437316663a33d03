"""Outbox events are kept for a while after they were fanned out, so their deliveries can
be listed and redelivered; then they go, with their deliveries and attempts."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists

from tenantry.storage.database import Database
from tenantry.storage.models import WebhookDelivery
from tenantry.storage.purging import delete_in_batches
from tenantry.storage.tables import DOMAIN_EVENTS

EVENT_RETENTION = timedelta(days=30)


async def purge_settled_events(db: Database, *, now: datetime) -> int:
    """Delete dispatched events older than the retention whose deliveries have all settled;
    returns how many went."""
    unsettled = exists().where(
        WebhookDelivery.event_id == DOMAIN_EVENTS.c.id, WebhookDelivery.status == "pending"
    )
    return await delete_in_batches(
        db,
        DOMAIN_EVENTS,
        DOMAIN_EVENTS.c.dispatched_at.is_not(None),
        DOMAIN_EVENTS.c.created_at < now - EVENT_RETENTION,
        ~unsettled,
    )
