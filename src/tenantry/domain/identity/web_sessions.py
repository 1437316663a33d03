"""Browser sessions (SPEC §11): a random cookie token, stored only as its SHA-256, riding on an
identity session. Ending that session (logout, password reset or change, sign out everywhere)
ends the web session too; each one also has an idle and an absolute lifetime. CSRF tokens are
keyed hashes of the web session id, or of a random pre-login nonce kept in a cookie. No HTTP
here: the web transport only reads and writes the cookies."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.audit import record_audit
from tenantry.domain.identity.secrets import SecretHasher
from tenantry.domain.identity.sessions import hash_refresh_token, revoke_sessions
from tenantry.storage.database import Database
from tenantry.storage.models import RefreshToken, Session, User, WebSession

# last_seen_at is written at most this often: a page view is not worth a write each time.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class WebSessionPolicy:
    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True)
class WebIdentity:
    """Who a valid cookie belongs to, for the per-request access check."""

    web_session_id: uuid.UUID
    session_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    signed_in_at: datetime


def new_web_token() -> str:
    return secrets.token_urlsafe(32)


def hash_web_token(token: str) -> str:
    return hash_refresh_token(token)


class WebSessions:
    def __init__(
        self, *, db: Database, clock: Clock, policy: WebSessionPolicy, csrf: SecretHasher
    ) -> None:
        self._db = db
        self._clock = clock
        self._policy = policy
        self._csrf = csrf

    async def open(self, *, refresh_token: str) -> str:
        """A new web session (and cookie token) on the identity session that a sign-in just
        opened with `refresh_token`; the browser never sees that refresh token."""
        token = new_web_token()
        now = self._clock.now()
        async with self._db.transaction() as session:
            found = (
                await session.execute(
                    select(Session.id, Session.user_id, Session.expires_at)
                    .join(RefreshToken, RefreshToken.session_id == Session.id)
                    .where(RefreshToken.token_hash == hash_refresh_token(refresh_token))
                )
            ).one()
            session.add(
                WebSession(
                    id=uuid.uuid4(),
                    token_hash=hash_web_token(token),
                    session_id=found.id,
                    user_id=found.user_id,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=min(now + self._policy.absolute, found.expires_at),
                )
            )
        return token

    async def resolve(self, token: str) -> WebIdentity | None:
        """The live web session of `token`, or None (unknown, idle too long, expired, or its
        identity session revoked). User-level checks are the authenticator's."""
        now = self._clock.now()
        async with self._db.read() as session:
            row = (
                await session.execute(
                    select(WebSession, Session.revoked_at, User.email)
                    .join(Session, Session.id == WebSession.session_id)
                    .join(User, User.id == WebSession.user_id)
                    .where(WebSession.token_hash == hash_web_token(token))
                )
            ).one_or_none()
        if row is None:
            return None
        web, revoked_at, email = row
        idle_until = web.last_seen_at + self._policy.idle
        if revoked_at is not None or web.expires_at <= now or idle_until <= now:
            return None
        if now - web.last_seen_at >= TOUCH_EVERY:
            await self._touch(web.id, now)
        return WebIdentity(web.id, web.session_id, web.user_id, email, web.created_at)

    async def _touch(self, web_session_id: uuid.UUID, now: datetime) -> None:
        async with self._db.transaction() as session:
            await session.execute(
                update(WebSession).where(WebSession.id == web_session_id).values(last_seen_at=now)
            )

    async def close(self, token: str) -> None:
        """Sign out: drop the web session and revoke its identity session (and so its
        tokens). Unknown tokens are ignored."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            web = await session.scalar(
                select(WebSession).where(WebSession.token_hash == hash_web_token(token))
            )
            if web is None:
                return
            await session.execute(delete(WebSession).where(WebSession.id == web.id))
            await revoke_sessions(session, now=now, session_id=web.session_id)
            await _audit(session, "auth.logout", web.user_id, "session", web.session_id, now)

    async def close_everywhere(self, *, user_id: uuid.UUID) -> None:
        """Revoke every session of the user, this browser's included."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            await session.execute(delete(WebSession).where(WebSession.user_id == user_id))
            await revoke_sessions(session, now=now, user_id=user_id)
            await _audit(session, "auth.signed_out_everywhere", user_id, "user", user_id, now)

    def csrf_token(self, web_session_id: uuid.UUID) -> str:
        return self._csrf.digest("web-session", str(web_session_id))

    def csrf_valid(self, web_session_id: uuid.UUID, presented: str) -> bool:
        return self._csrf.matches(presented, "web-session", str(web_session_id))

    def form_token(self, nonce: str) -> str:
        """The token that pre-login forms carry for the nonce in the browser's cookie."""
        return self._csrf.digest("pre-login", nonce)

    def form_token_valid(self, nonce: str, presented: str) -> bool:
        return bool(nonce) and self._csrf.matches(presented, "pre-login", nonce)


async def _audit(
    session: AsyncSession,
    action: str,
    actor: uuid.UUID,
    kind: str,
    target: uuid.UUID,
    now: datetime,
) -> None:
    await record_audit(
        session,
        action=action,
        tenant_id=None,
        actor_id=actor,
        target_type=kind,
        target_id=str(target),
        now=now,
    )
