"""Domain events (SPEC §9): the catalog of event types and the outbox they are written to in
the transaction of the change they describe."""

from typing import TYPE_CHECKING

from tenantry.domain.exports import lazy_exports

if TYPE_CHECKING:
    from tenantry.domain.events.catalog import subscribes
    from tenantry.domain.events.outbox import Event, on_events_committed, record_events

__all__ = [
    "Event",
    "on_events_committed",
    "record_events",
    "subscribes",
]
__getattr__ = lazy_exports(
    __name__,
    {
        "Event": "outbox",
        "on_events_committed": "outbox",
        "record_events": "outbox",
        "subscribes": "catalog",
    },
)
