"""After-commit hooks: side effects (waking workers, bumping stamps) that must happen only
once the unit of work has committed."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

AFTER_COMMIT = "after_commit"


def after_commit(session: AsyncSession, hook: Callable[[], None]) -> None:
    """Run `hook` once the current unit of work has committed (never if it rolls back)."""
    hooks: list[Callable[[], None]] = session.info.setdefault(AFTER_COMMIT, [])
    if hook not in hooks:
        hooks.append(hook)


def run_after_commit(session: AsyncSession) -> None:
    for hook in session.info.pop(AFTER_COMMIT, ()):
        hook()
