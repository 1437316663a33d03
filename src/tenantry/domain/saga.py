"""Orchestrating steps that cannot share one transaction (a database created on the server,
then rows that point at it): each step comes with the undo that reverses it, and a failure
undoes the steps taken so far, newest first. Undos must tolerate a step that failed half-way
and must be safe to repeat."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from tenantry.faults import Faults

log = structlog.get_logger("tenantry.saga")


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[], Awaitable[None]]
    undo: Callable[[], Awaitable[None]]


class StepFailed(Exception):
    """A step failed and the steps before it were undone."""

    def __init__(self, step: str, cause: BaseException, *, undone: bool) -> None:
        super().__init__(f"{step}: {cause}")
        self.step = step
        self.cause = cause
        self.undone = undone


async def run_steps(saga: str, steps: list[Step], *, faults: Faults) -> None:
    """Run `steps` in order; `faults` may fail any of them at `<saga>.<step>` (tests)."""
    taken: list[Step] = []
    for step in steps:
        taken.append(step)  # before running: a step that fails half-way is undone too
        try:
            await step.run()
            faults.checkpoint(f"{saga}.{step.name}")
        except Exception as error:
            undone = await undo_steps(saga, taken)
            raise StepFailed(step.name, error, undone=undone) from error


async def undo_steps(saga: str, taken: list[Step]) -> bool:
    """Undo `taken` newest first; False if an undo failed. Undoing stops there: what is left
    is still recorded, and the recovery sweep finishes the job from that record."""
    for step in reversed(taken):
        try:
            await step.undo()
        except Exception:
            log.exception("undo_failed", saga=saga, step=step.name)
            return False
    return True
