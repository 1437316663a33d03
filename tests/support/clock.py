"""A clock that runs in real time but can be moved forward, for expiry and lockout tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from tenantry.clock import Clock


class ShiftableClock(Clock):
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return super().now() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)
