"""Named checkpoints inside multi-step transactions. Tests arm one to abort the transaction at
that step and prove nothing half-written survives; in production none is ever armed."""

from __future__ import annotations


class InjectedFault(Exception):
    """Raised at an armed checkpoint."""


class Faults:
    def __init__(self) -> None:
        self.armed: str | None = None

    def checkpoint(self, name: str) -> None:
        if self.armed == name:
            raise InjectedFault(name)
