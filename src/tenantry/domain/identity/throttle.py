"""Allowances of anonymous callers, each counted with one atomic upsert so parallel requests
are all counted. Login lockout: a sign-in is counted as a failure before its password is
checked, so parallel guesses cannot exceed the allowance. Mailings: every code or account mail
requested for an address is counted before anything is looked up, which bounds both the mail
an address can be flooded with and the guesses at its codes (tries per code x codes per
window). Unknown emails are counted like known ones, so neither limit reveals an account.
Both are counted per client too, and a client that proved it holds the account is held to its
own counts only: a stranger cannot lock the owner out (docs/security.md, "Lockout")."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.errors import Throttled
from tenantry.storage.tables import LOGIN_THROTTLES
from tenantry.storage.types import UTCDateTime


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int
    window: timedelta


@dataclass(frozen=True)
class Allowances:
    """What anonymous callers may do per window. Sign-in failures and mail are counted per
    account (or address) and client, so that a stranger's flood throttles the stranger; the
    account-wide counts stop distributed floods but spare a client that proved it holds the
    account (a device cookie of an earlier sign-in). Hashing is counted per client address."""

    sign_in_per_client: LockoutPolicy
    sign_in_per_account: LockoutPolicy
    mail_per_client: LockoutPolicy
    mail_per_address: LockoutPolicy
    hashing_per_client: LockoutPolicy


@dataclass(frozen=True)
class Caller:
    """Who sends a request about an account: the device it proved holds the account, else
    its address."""

    key: str
    proven: bool

    @classmethod
    def of(cls, *, ip: str | None, device_id: str | None) -> Caller:
        if device_id is not None:
            return cls(f"device {device_id}", proven=True)
        return cls(f"ip {ip or 'unknown'}", proven=False)


# Past the account-wide count a proven device waits this long per extra failure, at most the cap.
SLOWDOWN_STEP = 0.5
SLOWDOWN_CAP = 5.0
_CLEAR_FAILURES = delete(LOGIN_THROTTLES).where(LOGIN_THROTTLES.c.email_key == bindparam("key"))
_UNCOUNT_ATTEMPT = (
    update(LOGIN_THROTTLES)
    .where(LOGIN_THROTTLES.c.email_key == bindparam("key"), LOGIN_THROTTLES.c.failures > 0)
    .values(failures=LOGIN_THROTTLES.c.failures - 1)
)
_TOO_MANY_ATTEMPTS = ("Too many failed sign-in attempts. Try again later.", "too_many_attempts")
_TOO_MANY_EMAILS = (
    "Too many emails were requested for this address. Try again later.",
    "too_many_emails",
)
_TOO_MANY_REGISTRATIONS = (
    "Too many registrations came from your address. Try again later.",
    "too_many_registrations",
)


def _pair_key(kind: str, email_key: str, caller: Caller) -> str:
    """A counter of (account, client), hashed to fit the key column whatever the address."""
    digest = hashlib.sha256(f"{kind}\x1f{email_key}\x1f{caller.key}".encode()).hexdigest()
    return f"{kind} {digest}"


async def reserve_attempt(
    session: AsyncSession,
    *,
    allowances: Allowances,
    email_key: str,
    caller: Caller,
    now: datetime,
) -> float:
    """Count a sign-in attempt as a failure before its password is checked, per account and
    client and per account, and raise `Throttled` once an allowance is used up. The atomic
    upserts admit parallel attempts one by one, so no more passwords are ever checked in a
    window (a check-then-count lockout let Zitadel users try more in parallel). Raising rolls
    the counts back; a correct password clears the client's (`clear_failures`). A proven
    device is never refused for the account-wide count: it gets the seconds to wait instead."""
    await _count_in_window(
        session,
        key=_pair_key("login", email_key, caller),
        policy=allowances.sign_in_per_client,
        now=now,
        refusal=_TOO_MANY_ATTEMPTS,
    )
    excess = await _count_in_window(
        session,
        key=email_key,
        policy=allowances.sign_in_per_account,
        now=now,
        refusal=None if caller.proven else _TOO_MANY_ATTEMPTS,
    )
    return min(SLOWDOWN_CAP, SLOWDOWN_STEP * excess)


async def clear_failures(session: AsyncSession, *, email_key: str, caller: Caller) -> None:
    """After a correct password: forget the client's failed sign-ins, and take this attempt
    back from the account-wide count. Its earlier failures stay until the window runs out,
    so that the owner signing in does not hand a distributed guesser a fresh allowance."""
    connection = await session.connection()
    await connection.execute(_CLEAR_FAILURES, {"key": _pair_key("login", email_key, caller)})
    await connection.execute(_UNCOUNT_ATTEMPT, {"key": email_key})


async def reserve_mailing(
    session: AsyncSession,
    *,
    allowances: Allowances,
    email_key: str,
    caller: Caller,
    now: datetime,
) -> None:
    """Count a code or account mail requested for the address, per client and per address;
    `Throttled` past an allowance (raising rolls the counts back). A proven device is held to
    its own allowance only, so strangers cannot use up the owner's mail."""
    await _count_in_window(
        session,
        key=_pair_key("mail", email_key, caller),
        policy=allowances.mail_per_client,
        now=now,
        refusal=_TOO_MANY_EMAILS,
    )
    await _count_in_window(
        session,
        # Its own counter in the same table: no address contains a space.
        key=f"mail {email_key}",
        policy=allowances.mail_per_address,
        now=now,
        refusal=None if caller.proven else _TOO_MANY_EMAILS,
    )


async def reserve_mail(
    session: AsyncSession, *, key: str, policy: LockoutPolicy, now: datetime, detail: str
) -> None:
    """Count one mail a signed-in caller has sent under `key` (what it is counted against:
    a kind and a subject, apart from every address key by a space); `Throttled`
    `too_many_emails` with `detail` past the policy (raising rolls the count back)."""
    await _count_in_window(
        session, key=key, policy=policy, now=now, refusal=(detail, "too_many_emails")
    )


async def check_mailing(
    session: AsyncSession,
    *,
    allowances: Allowances,
    email_key: str,
    caller: Caller,
    now: datetime,
) -> None:
    """`Throttled` if `reserve_mailing` would refuse the next mail, counting nothing: for a
    flow that must hash before it may count (an idempotent retry is not counted twice)."""
    counters = [(_pair_key("mail", email_key, caller), allowances.mail_per_client)]
    if not caller.proven:
        counters.append((f"mail {email_key}", allowances.mail_per_address))
    for key, policy in counters:
        await _check_in_window(session, key=key, policy=policy, now=now, refusal=_TOO_MANY_EMAILS)


async def reserve_registration(
    session: AsyncSession, *, policy: LockoutPolicy, ip: str | None, now: datetime
) -> None:
    """Count a registration started from the client address: `Throttled`
    `too_many_registrations` past the policy (raising rolls the count back)."""
    await _count_in_window(
        session, key=_registrations_key(ip), policy=policy, now=now, refusal=_TOO_MANY_REGISTRATIONS
    )


async def check_registration(
    session: AsyncSession, *, policy: LockoutPolicy, ip: str | None, now: datetime
) -> None:
    """`Throttled` if `reserve_registration` would refuse, counting nothing."""
    await _check_in_window(
        session, key=_registrations_key(ip), policy=policy, now=now, refusal=_TOO_MANY_REGISTRATIONS
    )


def _registrations_key(ip: str | None) -> str:
    return f"registrations {ip or 'unknown'}"


async def _check_in_window(
    session: AsyncSession,
    *,
    key: str,
    policy: LockoutPolicy,
    now: datetime,
    refusal: tuple[str, str],
) -> None:
    """Raise `refusal` (detail, code) if counting one more under `key` would pass the policy."""
    row = (
        await session.execute(
            select(LOGIN_THROTTLES.c.failures, LOGIN_THROTTLES.c.window_started_at).where(
                LOGIN_THROTTLES.c.email_key == key
            )
        )
    ).one_or_none()
    if row is None or row.window_started_at <= now - policy.window:
        return
    if row.failures >= policy.max_failures:
        detail, code = refusal
        retry_after = int((row.window_started_at + policy.window - now).total_seconds())
        raise Throttled(detail, retry_after=retry_after + 1, code=code)


async def reserve_hashing(
    session: AsyncSession, *, allowances: Allowances, ip: str | None, now: datetime
) -> None:
    """Count an anonymous request that will run Argon2 against its client address, before
    any hashing: `Throttled` past the allowance."""
    await _count_in_window(
        session,
        key=f"hash {ip or 'unknown'}",
        policy=allowances.hashing_per_client,
        now=now,
        refusal=("Too many requests from your address. Try again later.", "too_many_requests"),
    )


async def _count_in_window(
    session: AsyncSession,
    *,
    key: str,
    policy: LockoutPolicy,
    now: datetime,
    refusal: tuple[str, str] | None,
) -> int:
    """Count one more under `key`; past the policy raise `refusal` (detail, code), or, with
    none, return by how many the count is past it."""
    connection = await session.connection()
    statement = _COUNT_FAILURE[connection.dialect.name]
    parameters = {"key": key, "at": now, "window_start": now - policy.window}
    counted, started = (await connection.execute(statement, parameters)).one()
    excess = max(0, counted - policy.max_failures)
    if excess and refusal is not None:
        retry_after = int((started + policy.window - now).total_seconds()) + 1
        detail, code = refusal
        raise Throttled(detail, retry_after=retry_after, code=code)
    return int(excess)


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
