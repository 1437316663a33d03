"""Spent credentials are deleted a while after they stop working, so the identity tables grow
with the people who use the service, not with every sign-in ever made: sessions (with their
refresh tokens and web sessions, by cascade) a day after they expired or were revoked, mailed
codes a day after they expired, web sessions a day after they expired,
lockout windows once they are closed, and known devices unseen for 180 days (an account's
latest stays: `known_devices.forgotten_devices`).

The day of grace (`TENANTRY_CREDENTIAL_GRACE`; the soak shortens it) keeps a replayed refresh
token of a just-revoked session answering as a revoked one (and lets support see a recent
sign-in). A live session's rotated refresh tokens are kept for a week after their rotation:
presenting one is how reuse is detected (and the session revoked), and a session refreshed every
15 minutes for its 30 days would otherwise keep almost 3,000 of them. A replay older than that
is an unknown token: refused, without revoking the session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Table, or_

from tenantry.domain.identity.known_devices import forgotten_devices
from tenantry.storage.database import Store
from tenantry.storage.purging import delete_in_batches
from tenantry.storage.tables import (
    EMAIL_CODES,
    KNOWN_DEVICES,
    LOGIN_THROTTLES,
    REFRESH_TOKENS,
    SESSIONS,
    WEB_SESSIONS,
)

GRACE = timedelta(days=1)
REUSE_DETECTION = timedelta(days=7)


@dataclass(frozen=True)
class Purged:
    sessions: int
    rotated_refresh_tokens: int
    email_codes: int
    web_sessions: int
    login_throttles: int
    known_devices: int


def spent_credentials(
    *, now: datetime, throttle_window: timedelta, grace: timedelta = GRACE
) -> dict[str, tuple[Table, ColumnElement[bool]]]:
    """The rows that may go at `now`, by the field of `Purged` that counts them; sessions first,
    their refresh tokens and web sessions go with them by cascade."""
    cutoff = now - grace
    return {
        "sessions": (
            SESSIONS,
            or_(SESSIONS.c.expires_at < cutoff, SESSIONS.c.revoked_at < cutoff),
        ),
        "rotated_refresh_tokens": (
            REFRESH_TOKENS,
            REFRESH_TOKENS.c.rotated_at < now - REUSE_DETECTION,
        ),
        # a used code expires minutes after its use anyway
        "email_codes": (EMAIL_CODES, EMAIL_CODES.c.expires_at < cutoff),
        "web_sessions": (WEB_SESSIONS, WEB_SESSIONS.c.expires_at < cutoff),
        "login_throttles": (
            LOGIN_THROTTLES,
            # the longest allowance window: a counter whose window closed counts nothing
            LOGIN_THROTTLES.c.window_started_at < now - throttle_window,
        ),
        "known_devices": (KNOWN_DEVICES, forgotten_devices(now)),
    }


async def purge_spent_credentials(
    db: Store, *, now: datetime, throttle_window: timedelta, grace: timedelta = GRACE
) -> Purged:
    spent = spent_credentials(now=now, throttle_window=throttle_window, grace=grace)
    return Purged(
        **{
            name: await delete_in_batches(db, table, condition)
            for name, (table, condition) in spent.items()
        }
    )
