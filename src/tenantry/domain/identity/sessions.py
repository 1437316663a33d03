"""Sessions and their rotating refresh tokens. A session is one refresh-token family: reuse of
a rotated token revokes the family, and revoking a session also kills its access tokens."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.identity.secrets import new_token
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.models import RefreshToken, Session

REFRESH_TOKEN_PREFIX = "rt"  # noqa: S105 (a prefix, not a secret)


def hash_refresh_token(token: str) -> str:
    # 256 random bits need no salt or stretching; a plain digest keeps lookups indexable.
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None
    user_agent: str | None


@dataclass(frozen=True)
class Rotation:
    """The outcome of presenting a refresh token."""

    user_id: uuid.UUID | None
    session_id: uuid.UUID | None
    refresh_token: str | None
    reused: bool = False


async def start_session(
    db_session: AsyncSession,
    *,
    user_id: uuid.UUID,
    now: datetime,
    ttl: timedelta,
    client: ClientInfo,
) -> tuple[uuid.UUID, str]:
    session_id = uuid.uuid4()
    db_session.add(
        Session(
            id=session_id,
            user_id=user_id,
            created_at=now,
            expires_at=now + ttl,
            ip=client.ip,
            user_agent=(client.user_agent or "")[:500] or None,
        )
    )
    await db_session.flush()
    return session_id, _add_refresh_token(db_session, session_id=session_id, now=now)


def _add_refresh_token(db_session: AsyncSession, *, session_id: uuid.UUID, now: datetime) -> str:
    token = new_token(REFRESH_TOKEN_PREFIX)
    db_session.add(
        RefreshToken(
            id=uuid.uuid4(),
            session_id=session_id,
            token_hash=hash_refresh_token(token),
            created_at=now,
        )
    )
    return token


async def rotate(db_session: AsyncSession, *, token: str, now: datetime) -> Rotation:
    """Exchange a refresh token for a new one. Presenting a token already rotated (or losing a
    race to rotate it) revokes the whole family; the caller commits that before failing."""
    found = (
        await db_session.execute(
            select(
                RefreshToken.id, Session.id, Session.user_id, Session.revoked_at, Session.expires_at
            )
            .join(Session, Session.id == RefreshToken.session_id)
            .where(RefreshToken.token_hash == hash_refresh_token(token))
        )
    ).one_or_none()
    if found is None:
        return Rotation(None, None, None)
    token_id, session_id, user_id, revoked_at, expires_at = found
    if revoked_at is not None or expires_at <= now:
        return Rotation(None, None, None)
    claimed = await db_session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token_id, RefreshToken.rotated_at.is_(None))
        .values(rotated_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await revoke_sessions(db_session, now=now, session_id=session_id)
        return Rotation(None, None, None, reused=True)
    new = _add_refresh_token(db_session, session_id=session_id, now=now)
    return Rotation(user_id, session_id, new)


async def session_for_refresh_token(db_session: AsyncSession, *, token: str) -> uuid.UUID | None:
    return await db_session.scalar(
        select(RefreshToken.session_id).where(RefreshToken.token_hash == hash_refresh_token(token))
    )


async def revoke_sessions(
    db_session: AsyncSession,
    *,
    now: datetime,
    session_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    keep: uuid.UUID | None = None,
) -> None:
    """Revoke one session, or every session of a user except `keep`."""
    statement = update(Session).where(Session.revoked_at.is_(None)).values(revoked_at=now)
    if session_id is not None:
        statement = statement.where(Session.id == session_id)
    if user_id is not None:
        statement = statement.where(Session.user_id == user_id)
    if keep is not None:
        statement = statement.where(Session.id != keep)
    await db_session.execute(statement)
    await bump_access_epoch(db_session)
