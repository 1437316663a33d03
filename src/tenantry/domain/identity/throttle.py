"""Per-address allowances, each counted with one atomic upsert so parallel requests are all
counted. Login lockout: a sign-in is counted as a failure before its password is checked, so
parallel guesses cannot exceed the allowance. Mailings: every code or account mail requested
for an address is counted before anything is looked up, which bounds both the mail an address
can be flooded with and the guesses at its codes (tries per code x codes per window). Unknown
emails are counted like known ones, so neither limit reveals an account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.errors import Throttled
from tenantry.storage.tables import LOGIN_THROTTLES
from tenantry.storage.types import UTCDateTime


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int
    window: timedelta


_CLEAR_FAILURES = delete(LOGIN_THROTTLES).where(LOGIN_THROTTLES.c.email_key == bindparam("key"))


async def reserve_attempt(
    session: AsyncSession, *, policy: LockoutPolicy, email_key: str, now: datetime
) -> None:
    """Count a sign-in attempt as a failure before its password is checked, and raise
    `Throttled` once the allowance is used up. The one atomic upsert admits parallel attempts
    one by one, so no more than `max_failures` passwords are ever checked in a window (a
    check-then-count lockout let Zitadel users try more in parallel). Raising rolls the count
    back; a correct password clears it (`clear_failures`)."""
    await _count_in_window(
        session,
        key=email_key,
        policy=policy,
        now=now,
        refusal="Too many failed sign-in attempts. Try again later.",
        code="too_many_attempts",
    )


async def reserve_mailing(
    session: AsyncSession, *, policy: LockoutPolicy, email_key: str, now: datetime
) -> None:
    """Count a code or account mail requested for the address; `Throttled` past the
    allowance (raising rolls the count back)."""
    await _count_in_window(
        session,
        # Its own counter in the same table: no address contains a space.
        key=f"mail {email_key}",
        policy=policy,
        now=now,
        refusal="Too many emails were requested for this address. Try again later.",
        code="too_many_emails",
    )


async def _count_in_window(
    session: AsyncSession,
    *,
    key: str,
    policy: LockoutPolicy,
    now: datetime,
    refusal: str,
    code: str,
) -> None:
    connection = await session.connection()
    statement = _COUNT_FAILURE[connection.dialect.name]
    parameters = {"key": key, "at": now, "window_start": now - policy.window}
    counted, started = (await connection.execute(statement, parameters)).one()
    if counted > policy.max_failures:
        retry_after = int((started + policy.window - now).total_seconds()) + 1
        raise Throttled(refusal, retry_after=retry_after, code=code)


def _count_failure(insert: Any) -> Any:
    """One more failure in the open window, or the first of a new window, returning the count
    and the window's start. Parameters: `key`, `at` (now), `window_start` (now - window)."""
    at = bindparam("at", type_=UTCDateTime())
    window_open = LOGIN_THROTTLES.c.window_started_at > bindparam(
        "window_start", type_=UTCDateTime()
    )
    return (
        insert(LOGIN_THROTTLES)
        .values(email_key=bindparam("key"), failures=1, window_started_at=at)
        .on_conflict_do_update(
            index_elements=[LOGIN_THROTTLES.c.email_key],
            set_={
                "failures": case((window_open, LOGIN_THROTTLES.c.failures + 1), else_=1),
                "window_started_at": case(
                    (window_open, LOGIN_THROTTLES.c.window_started_at), else_=at
                ),
            },
        )
        .returning(LOGIN_THROTTLES.c.failures, LOGIN_THROTTLES.c.window_started_at)
    )


# `INSERT ... ON CONFLICT` is dialect-specific: one prebuilt upsert per dialect.
_COUNT_FAILURE = {
    "postgresql": _count_failure(postgresql.insert),
    "sqlite": _count_failure(sqlite.insert),
}


async def clear_failures(session: AsyncSession, *, email_key: str) -> None:
    connection = await session.connection()
    await connection.execute(_CLEAR_FAILURES, {"key": email_key})
