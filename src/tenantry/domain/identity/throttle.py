"""Login lockout: failures per email are counted with one atomic upsert each, so parallel
wrong passwords are all counted, and a sign-in is counted before its password is checked, so
parallel guesses cannot exceed the allowance. Unknown emails are counted too, so a lockout
reveals nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, literal
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.errors import Throttled
from tenantry.storage.models import LoginThrottle
from tenantry.storage.types import UTCDateTime
from tenantry.storage.upsert import insert_on_conflict


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int
    window: timedelta


async def reserve_attempt(
    session: AsyncSession, *, policy: LockoutPolicy, email_key: str, now: datetime
) -> None:
    """Count a sign-in attempt as a failure before its password is checked, and raise
    `Throttled` once the allowance is used up. The one atomic upsert admits parallel attempts
    one by one, so no more than `max_failures` passwords are ever checked in a window (a
    check-then-count lockout let Zitadel users try more in parallel). Raising rolls the count
    back; a correct password clears it (`clear_failures`)."""
    statement = _count_failure(session, policy=policy, email_key=email_key, now=now).returning(
        LoginThrottle.failures, LoginThrottle.window_started_at
    )
    failures, started = (await session.execute(statement)).one()
    if failures > policy.max_failures:
        raise Throttled(
            "Too many failed sign-in attempts. Try again later.",
            retry_after=int((started + policy.window - now).total_seconds()) + 1,
            code="too_many_attempts",
        )


def _count_failure(
    session: AsyncSession, *, policy: LockoutPolicy, email_key: str, now: datetime
) -> Any:
    """One more failure in the open window, or the first of a new window."""
    window_open = LoginThrottle.window_started_at > now - policy.window
    statement = insert_on_conflict(session, LoginThrottle).values(
        email_key=email_key, failures=1, window_started_at=now
    )
    return statement.on_conflict_do_update(
        index_elements=[LoginThrottle.email_key],
        set_={
            "failures": case((window_open, LoginThrottle.failures + 1), else_=1),
            "window_started_at": case(
                (window_open, LoginThrottle.window_started_at),
                else_=literal(now, UTCDateTime()),
            ),
        },
    )


async def clear_failures(session: AsyncSession, *, email_key: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.email_key == email_key))
