"""Sessions and their rotating refresh tokens. A session is one refresh-token family: reuse of
a rotated token revokes the family, and revoking a session also kills its access tokens.

These are the hottest writes of the service (every sign-in and every refresh): sign-in's
statements are built once here with `bindparam`s and run as Core on the unit of work's
connection, and the rotation runs on the driver's own connection
(`storage/refresh_rotation.py`). Building statements per call and running them through the ORM
session costs several times what the database needs to answer them."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.identity.secrets import new_token
from tenantry.storage.database import Database
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.refresh_rotation import rotate_refresh_token
from tenantry.storage.tables import REFRESH_TOKENS, SESSIONS

REFRESH_TOKEN_PREFIX = "rt"  # noqa: S105 (a prefix, not a secret)


_INSERT_SESSION = insert(SESSIONS)
_INSERT_TOKEN = insert(REFRESH_TOKENS)
_SESSION_OF_TOKEN = select(REFRESH_TOKENS.c.session_id).where(
    REFRESH_TOKENS.c.token_hash == bindparam("presented_hash")
)


def hash_refresh_token(token: str) -> str:
    # 256 random bits need no salt or stretching; a plain digest keeps lookups indexable.
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None
    user_agent: str | None
    device: str | None = None  # the device token it presented (DeviceProofs), unchecked


@dataclass(frozen=True)
class TokenHolder:
    """The user columns an access token is issued from."""

    id: uuid.UUID
    email: str
    email_verified: bool
    default_tenant_id: uuid.UUID | None


@dataclass(frozen=True)
class Rotation:
    """The outcome of presenting a refresh token: a new token and its holder's current columns,
    or neither."""

    user_id: uuid.UUID | None
    session_id: uuid.UUID | None
    refresh_token: str | None
    reused: bool = False
    user: TokenHolder | None = None


async def start_session(
    db_session: AsyncSession,
    *,
    user_id: uuid.UUID,
    now: datetime,
    ttl: timedelta,
    client: ClientInfo,
) -> tuple[uuid.UUID, str]:
    session_id = uuid.uuid4()
    connection = await db_session.connection()
    await connection.execute(
        _INSERT_SESSION,
        {
            "id": session_id,
            "user_id": user_id,
            "created_at": now,
            "expires_at": now + ttl,
            "revoked_at": None,
            "ip": client.ip,
            "user_agent": (client.user_agent or "")[:500] or None,
        },
    )
    token = new_token(REFRESH_TOKEN_PREFIX)
    await connection.execute(
        _INSERT_TOKEN,
        _token_row(
            token_id=uuid.uuid4(), session_id=session_id, digest=hash_refresh_token(token), now=now
        ),
    )
    return session_id, token


def _token_row(
    *, token_id: uuid.UUID, session_id: uuid.UUID, digest: str, now: datetime
) -> dict[str, Any]:
    return {
        "id": token_id,
        "session_id": session_id,
        "token_hash": digest,
        "created_at": now,
        "rotated_at": None,
    }


async def rotate(db: Database, *, token: str, now: datetime) -> Rotation:
    """Exchange a refresh token for a new one. Presenting a token already rotated (or losing a
    race to rotate it) revokes the whole family before this returns.
    The token of a user who may no longer sign in (unconfirmed, disabled) is still rotated, but
    no new one is issued for it."""
    new = new_token(REFRESH_TOKEN_PREFIX)
    found = await rotate_refresh_token(
        db,
        presented_hash=hash_refresh_token(token),
        new_id=uuid.uuid4(),
        new_hash=hash_refresh_token(new),
        now=now,
    )
    if found is None or not found.live:
        return Rotation(None, None, None)
    if not found.claimed:
        async with db.transaction() as session:
            await revoke_sessions(session, now=now, session_id=found.session_id)
        return Rotation(None, None, None, reused=True)
    if not found.issued:
        return Rotation(None, None, None)
    user = TokenHolder(found.user_id, found.email, found.email_verified, found.default_tenant_id)
    return Rotation(found.user_id, found.session_id, new, user=user)


async def session_for_refresh_token(db_session: AsyncSession, *, token: str) -> uuid.UUID | None:
    connection = await db_session.connection()
    result = await connection.execute(
        _SESSION_OF_TOKEN, {"presented_hash": hash_refresh_token(token)}
    )
    session_id: uuid.UUID | None = result.scalar_one_or_none()
    return session_id


async def revoke_sessions(
    db_session: AsyncSession,
    *,
    now: datetime,
    session_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    keep: uuid.UUID | None = None,
) -> None:
    """Revoke one session, or every session of a user except `keep`. Not a hot path (logout,
    reset, change, reuse), so the statement is built per call."""
    statement = update(SESSIONS).where(SESSIONS.c.revoked_at.is_(None)).values(revoked_at=now)
    if session_id is not None:
        statement = statement.where(SESSIONS.c.id == session_id)
    if user_id is not None:
        statement = statement.where(SESSIONS.c.user_id == user_id)
    if keep is not None:
        statement = statement.where(SESSIONS.c.id != keep)
    connection = await db_session.connection()
    await connection.execute(statement)
    await bump_access_epoch(db_session)
