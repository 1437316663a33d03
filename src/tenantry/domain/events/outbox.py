"""Domain events, written to the outbox table in the transaction of the change they describe."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.storage.tables import DOMAIN_EVENTS

INSERT_EVENT = DOMAIN_EVENTS.insert()


@dataclass(frozen=True)
class Event:
    type: str
    tenant_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    data: dict[str, Any] = field(default_factory=dict)


async def record_events(session: AsyncSession, events: list[Event], *, now: datetime) -> None:
    """Append `events` to the outbox in one statement."""
    if not events:
        return
    rows = [
        {
            "id": uuid.uuid4(),
            "type": event.type,
            "tenant_id": event.tenant_id,
            "actor_id": event.actor_id,
            "data": event.data,
            "created_at": now,
        }
        for event in events
    ]
    connection = await session.connection()
    await connection.execute(INSERT_EVENT, rows)
