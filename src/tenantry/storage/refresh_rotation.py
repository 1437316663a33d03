"""Refresh-token rotation on the driver's own connection (`storage/driver.py`): the hottest
write of the service, every refresh of every client.

Find the presented token with its session and holder, claim it (only one of parallel
presentations can move `rotated_at` off NULL), and issue its successor, each step only if the
one before allows it. On PostgreSQL that is one statement (data-modifying CTEs: one round
trip, atomic in autocommit); on SQLite three statements in one BEGIN IMMEDIATE transaction.
On SQLite, times and ids are bound with SQLAlchemy's own processors for their column types, so
they are stored exactly as the ORM stores them (and compare as text in that format)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Uuid
from sqlalchemy.dialects import sqlite

from tenantry.storage.database import Store
from tenantry.storage.driver import postgres_connection, sqlite_write
from tenantry.storage.types import UTCDateTime


@dataclass(frozen=True)
class PresentedToken:
    """A refresh token as found, and what this presentation did with it."""

    session_id: uuid.UUID
    live: bool  # its session is neither revoked nor expired
    claimed: bool  # this presentation rotated it
    issued: bool  # and issued its successor (the holder may still sign in)
    user_id: uuid.UUID
    email: str
    email_verified: bool
    default_tenant_id: uuid.UUID | None


_POSTGRES = """
WITH found AS (
  SELECT r.id AS token_id, s.id AS session_id,
         s.revoked_at IS NULL AND s.expires_at > $1 AS live,
         u.id AS user_id, u.email, u.email_verified, u.default_tenant_id,
         u.email_verified AND u.disabled_at IS NULL AS usable
  FROM refresh_tokens r
  JOIN sessions s ON s.id = r.session_id
  JOIN users u ON u.id = s.user_id
  WHERE r.token_hash = $2
), claimed AS (
  UPDATE refresh_tokens SET rotated_at = $1 FROM found
  WHERE refresh_tokens.id = found.token_id AND refresh_tokens.rotated_at IS NULL AND found.live
  RETURNING found.session_id, found.usable
), issued AS (
  INSERT INTO refresh_tokens (id, session_id, token_hash, created_at)
  SELECT $3, session_id, $4, $1 FROM claimed WHERE usable
  RETURNING id
)
SELECT session_id, live, user_id, email, email_verified, default_tenant_id,
       EXISTS (SELECT FROM claimed) AS claimed, EXISTS (SELECT FROM issued) AS issued
FROM found
"""

_SQLITE_FIND = """
SELECT s.id, s.revoked_at IS NULL AND s.expires_at > ?,
       u.id, u.email, u.email_verified, u.default_tenant_id,
       u.email_verified AND u.disabled_at IS NULL
FROM refresh_tokens r
JOIN sessions s ON s.id = r.session_id
JOIN users u ON u.id = s.user_id
WHERE r.token_hash = ?
"""
_SQLITE_CLAIM = (
    "UPDATE refresh_tokens SET rotated_at = ? WHERE token_hash = ? AND rotated_at IS NULL"
)
_SQLITE_ISSUE = (
    "INSERT INTO refresh_tokens (id, session_id, token_hash, created_at) VALUES (?, ?, ?, ?)"
)


def _processor(found: Callable[..., Any] | None) -> Callable[[Any], Any]:
    return found or (lambda value: value)


_SQLITE_DIALECT = sqlite.dialect()
_sqlite_time = _processor(UTCDateTime().bind_processor(_SQLITE_DIALECT))
_sqlite_id = _processor(Uuid().bind_processor(_SQLITE_DIALECT))


async def rotate_refresh_token(
    store: Store, *, presented_hash: str, new_id: uuid.UUID, new_hash: str, now: datetime
) -> PresentedToken | None:
    """Present the token whose hash is `presented_hash`; None when no such token exists."""
    if store.dialect == "postgresql":
        async with postgres_connection(store) as connection:
            row = await connection.fetchrow(_POSTGRES, now, presented_hash, new_id, new_hash)
        if row is None:
            return None
        session, live, user, email, verified, tenant, claimed, issued = row
        return PresentedToken(session, live, claimed, issued, user, email, verified, tenant)
    return await _rotate_on_sqlite(store, presented_hash, new_id, new_hash, now)


async def _rotate_on_sqlite(
    store: Store, presented_hash: str, new_id: uuid.UUID, new_hash: str, now: datetime
) -> PresentedToken | None:
    stamp = _sqlite_time(now)
    async with sqlite_write(store) as connection:
        row = connection.execute(_SQLITE_FIND, (stamp, presented_hash)).fetchone()
        if row is None:
            return None
        session_id, live, user_id, email, verified, tenant_id, usable = row
        claimed = bool(live) and (
            connection.execute(_SQLITE_CLAIM, (stamp, presented_hash)).rowcount == 1
        )
        issued = claimed and bool(usable)
        if issued:
            connection.execute(_SQLITE_ISSUE, (_sqlite_id(new_id), session_id, new_hash, stamp))
    return PresentedToken(
        session_id=uuid.UUID(hex=session_id),
        live=bool(live),
        claimed=claimed,
        issued=issued,
        user_id=uuid.UUID(hex=user_id),
        email=email,
        email_verified=bool(verified),
        default_tenant_id=uuid.UUID(hex=tenant_id) if tenant_id is not None else None,
    )
