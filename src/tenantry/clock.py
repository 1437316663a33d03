"""Time as a dependency, so lockouts and expiries are tested with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime


class Clock:
    """The wall clock in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
