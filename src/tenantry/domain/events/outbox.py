"""Domain events, written to the outbox table in the transaction of the change they describe."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.audit.entries import audit_events
from tenantry.domain.events.catalog import EVENT_TYPES
from tenantry.storage.hooks import after_commit
from tenantry.storage.tables import DOMAIN_EVENTS

INSERT_EVENT = DOMAIN_EVENTS.insert()
# Where the next event of this unit of work goes in its order: several calls may share it.
NEXT_POSITION = "tenantry.next_event_position"
_committed_listeners: list[Callable[[], None]] = []


def on_events_committed(listener: Callable[[], None]) -> Callable[[], None]:
    """Call `listener` after each commit that wrote events (the webhook dispatcher wakes up
    instead of waiting for its next poll); returns the function that unregisters it."""
    _committed_listeners.append(listener)
    return lambda: _committed_listeners.remove(listener)


def _notify_committed() -> None:
    for listener in list(_committed_listeners):
        listener()


@dataclass(frozen=True)
class Event:
    type: str
    tenant_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"{self.type!r} is not in the event catalog")


async def record_events(session: AsyncSession, events: list[Event], *, now: datetime) -> None:
    """Append `events` to the outbox in one statement, and their audit entries in another."""
    if not events:
        return
    first: int = session.info.get(NEXT_POSITION, 0)
    rows = [
        {
            "id": uuid.uuid4(),
            "type": event.type,
            "tenant_id": event.tenant_id,
            "actor_id": event.actor_id,
            "data": event.data,
            "created_at": now,
            "position": position,
        }
        for position, event in enumerate(events, start=first)
    ]
    session.info[NEXT_POSITION] = first + len(events)
    connection = await session.connection()
    await connection.execute(INSERT_EVENT, rows)
    await audit_events(session, events, now=now)
    after_commit(session, _notify_committed)
