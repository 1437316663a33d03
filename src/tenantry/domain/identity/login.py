"""Password login, refresh-token rotation and logout (SPEC §4)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.audit import record_audit
from tenantry.domain.identity.sessions import (
    ClientInfo,
    TokenHolder,
    revoke_sessions,
    rotate,
    session_for_refresh_token,
)
from tenantry.domain.identity.throttle import clear_failures, reserve_attempt
from tenantry.domain.identity.toolkit import IdentityToolkit, TokenPair, email_key
from tenantry.errors import PermissionDenied, Unauthenticated
from tenantry.storage.tables import SESSIONS, USERS

# Only the columns a login needs, prebuilt and run as Core (a login is a hot path).
_LOGIN_ACCOUNT = select(
    USERS.c.id,
    USERS.c.email,
    USERS.c.email_verified,
    USERS.c.default_tenant_id,
    USERS.c.password_hash,
    USERS.c.disabled_at,
).where(USERS.c.email_key == bindparam("key"))


@dataclass(frozen=True)
class LoginAccount(TokenHolder):
    password_hash: str | None
    disabled_at: datetime | None


async def login_account(session: AsyncSession, key: str) -> LoginAccount | None:
    """The account with email key `key`, as far as a password login needs it."""
    connection = await session.connection()
    found = (await connection.execute(_LOGIN_ACCOUNT, {"key": key})).one_or_none()
    if found is None:
        return None
    user_id, email, verified, tenant_id, password_hash, disabled_at = found
    return LoginAccount(user_id, email, verified, tenant_id, password_hash, disabled_at)


def invalid_credentials() -> Unauthenticated:
    return Unauthenticated("Incorrect email or password.", code="invalid_credentials")


class LoginFlow:
    def __init__(self, toolkit: IdentityToolkit) -> None:
        self._d = toolkit

    async def login(self, *, email: str, password: str, client: ClientInfo) -> TokenPair:
        """Unknown email and wrong password fail alike, after the same Argon2 work and the
        same writes; the audit entry of a known account's failure is written after the
        answer. The unconfirmed state is told only to someone who knows the password. The
        attempt is counted before the password is checked, so parallel guesses cannot slip
        past the lockout; a correct password clears the client's count."""
        key = email_key(email)
        async with self._d.db.transaction() as session:
            await self._d.count_hashing(session, client)
            user = await login_account(session, key)
            caller = self._d.caller(client, user.id if user else None)
            slowdown = await reserve_attempt(
                session,
                allowances=self._d.allowances,
                email_key=key,
                caller=caller,
                now=self._d.clock.now(),
            )
        if slowdown:
            await asyncio.sleep(slowdown)
        matched = await self._d.passwords.verify(user.password_hash if user else None, password)
        if not matched or user is None or user.disabled_at is not None:
            if user is not None:
                self._d.detached.spawn(self._audit_failure(user.id), name="audit-login-failure")
            raise invalid_credentials()
        pair: TokenPair | None = None
        async with self._d.db.transaction() as session:
            await clear_failures(session, email_key=key, caller=caller)
            if user.email_verified:
                pair = await self._d.sign_in(session, user=user, client=client)
                await audit_login(session, user.id, method="password", now=self._d.clock.now())
        if pair is None:
            raise PermissionDenied("Confirm your email address first.", code="email_not_confirmed")
        return pair

    async def _audit_failure(self, user_id: uuid.UUID) -> None:
        """Only for an existing account, named by id: nothing typed (a mistyped address, or a
        password in the email field) is ever stored."""
        async with self._d.db.transaction() as session:
            await record_audit(
                session,
                action="auth.login_failed",
                tenant_id=None,
                actor_id=None,
                target_type="user",
                target_id=str(user_id),
                now=self._d.clock.now(),
            )

    async def refresh(self, *, refresh_token: str) -> TokenPair:
        """Rotate the token; its holder must still be confirmed and enabled (`rotate` reads
        the holder's columns with the token). The access token is signed once the rotation
        has committed."""
        rotation = await rotate(self._d.db, token=refresh_token, now=self._d.clock.now())
        if rotation.user is None or rotation.session_id is None or rotation.refresh_token is None:
            raise Unauthenticated(
                "The refresh token is invalid or revoked.", code="invalid_refresh_token"
            )
        access_token = self._d.access_token(rotation.user, rotation.session_id)
        return TokenPair(access_token, self._d.tokens.ttl, rotation.refresh_token)

    async def logout(self, *, refresh_token: str) -> None:
        """Revoke the refresh token's whole session; unknown tokens are ignored."""
        async with self._d.db.transaction() as session:
            session_id = await session_for_refresh_token(session, token=refresh_token)
            if session_id is not None:
                now = self._d.clock.now()
                await revoke_sessions(session, now=now, session_id=session_id)
                user_id = await session.scalar(
                    select(SESSIONS.c.user_id).where(SESSIONS.c.id == session_id)
                )
                await record_audit(
                    session,
                    action="auth.logout",
                    tenant_id=None,
                    actor_id=user_id,
                    target_type="session",
                    target_id=str(session_id),
                    now=now,
                )


async def audit_login(
    session: AsyncSession, user_id: uuid.UUID, *, method: str, now: datetime
) -> None:
    """A sign-in, by `password` or a mailed `email_code`."""
    await record_audit(
        session,
        action="auth.login",
        tenant_id=None,
        actor_id=user_id,
        target_type="user",
        target_id=str(user_id),
        data={"method": method},
        now=now,
    )
