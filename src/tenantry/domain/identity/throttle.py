"""Login lockout: failures per email are counted with one atomic upsert each, so parallel
wrong passwords are all counted. Unknown emails are counted too, so a lockout reveals nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.errors import Throttled
from tenantry.storage.models import LoginThrottle
from tenantry.storage.types import UTCDateTime
from tenantry.storage.upsert import insert_on_conflict


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int
    window: timedelta


async def ensure_not_locked(
    session: AsyncSession, *, policy: LockoutPolicy, email_key: str, now: datetime
) -> bool:
    """Raise `Throttled` while the account is locked; True if failures are on record."""
    row = (
        await session.execute(
            select(LoginThrottle.failures, LoginThrottle.window_started_at).where(
                LoginThrottle.email_key == email_key
            )
        )
    ).one_or_none()
    if row is None:
        return False
    failures, started = row
    window_ends = started + policy.window
    if failures >= policy.max_failures and window_ends > now:
        raise Throttled(
            "Too many failed sign-in attempts. Try again later.",
            retry_after=int((window_ends - now).total_seconds()) + 1,
            code="too_many_attempts",
        )
    return True


async def record_failure(
    session: AsyncSession, *, policy: LockoutPolicy, email_key: str, now: datetime
) -> None:
    window_open = LoginThrottle.window_started_at > now - policy.window
    statement = insert_on_conflict(session, LoginThrottle).values(
        email_key=email_key, failures=1, window_started_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=[LoginThrottle.email_key],
        set_={
            "failures": case((window_open, LoginThrottle.failures + 1), else_=1),
            "window_started_at": case(
                (window_open, LoginThrottle.window_started_at),
                else_=literal(now, UTCDateTime()),
            ),
        },
    )
    await session.execute(statement)


async def clear_failures(session: AsyncSession, *, email_key: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.email_key == email_key))
