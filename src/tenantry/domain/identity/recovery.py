"""Forgotten, reset and changed passwords (SPEC §4), each revoking what it must."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.audit import record_audit
from tenantry.domain.identity.access import Principal
from tenantry.domain.identity.activation import activate_user
from tenantry.domain.identity.codes import invalid_code
from tenantry.domain.identity.notices import PASSWORD_CHANGED, PASSWORD_RESET, PASSWORD_SET
from tenantry.domain.identity.passwords import check_password_policy
from tenantry.domain.identity.sessions import ClientInfo, revoke_sessions
from tenantry.domain.identity.throttle import Caller, clear_failures, reserve_attempt
from tenantry.domain.identity.toolkit import IdentityToolkit
from tenantry.errors import Conflict, PermissionDenied, Unauthenticated
from tenantry.storage.models import User

RESET = "reset"


class RecoveryFlow:
    def __init__(self, toolkit: IdentityToolkit) -> None:
        self._d = toolkit

    async def forgot_password(self, *, email: str, client: ClientInfo) -> None:
        """Mail a reset code if the account exists; the answer never says whether it does,
        nor takes longer when it does: the code is made and mailed after the answer."""
        async with self._d.mail_transaction() as session:
            await self._d.count_mailing(session, email, client)
            user = await self._d.user_by_email(session, email)
        if user is not None and user.disabled_at is None:
            self._d.detached.spawn(self._mail_reset_code(user.id), name="mail-reset-code")

    async def _mail_reset_code(self, user_id: uuid.UUID) -> None:
        async with self._d.db.transaction() as session:
            user = await session.get(User, user_id)
            if user is None or user.disabled_at is not None:
                return
            now = self._d.clock.now()
            await self._d.send_code(session, user=user, purpose=RESET, template="reset_code")
            await _audit(session, "auth.password_reset_requested", user.id, actor_id=None, now=now)

    async def reset_password(
        self, *, email: str, code: str, password: str, client: ClientInfo
    ) -> None:
        """Set a new password and kill every session and every access token issued before.
        The code proves the address, so an unconfirmed account is confirmed by it. The code
        is taken before the password is hashed, so a wrong one costs no Argon2 work."""
        check_password_policy(password, email=email)
        await self._d.claim_code(email=email, purpose=RESET, code=code, client=client)
        new_hash = await self._d.passwords.hash(password)
        done = False
        async with self._d.db.transaction() as session:
            now = self._d.clock.now()
            user = await self._d.user_by_email(session, email)
            if user is not None:
                activated = not user.email_verified and await activate_user(
                    session, user=user, password_hash=new_hash, now=now, faults=self._d.faults
                )
                if not activated:
                    await session.execute(
                        update(User)
                        .where(User.id == user.id)
                        .values(password_hash=new_hash, tokens_valid_after=now, updated_at=now)
                    )
                    await revoke_sessions(session, now=now, user_id=user.id)
                await _audit(session, "auth.password_reset", user.id, actor_id=user.id, now=now)
                self._d.notices.send(session, PASSWORD_RESET, to=user.email, now=now)
                done = True
        if not done:
            raise invalid_code()

    async def change_password(
        self, *, principal: Principal, current_password: str, password: str
    ) -> None:
        """Replace the password; every other session ends, the caller's stays. Wrong current
        passwords count toward the login lockout, reserved before the check like logins."""
        # A signed-in session has proved it holds the account: its own count applies.
        caller = Caller(f"session {principal.session_id}", proven=True)
        async with self._d.db.transaction() as session:
            user = await session.get(User, principal.user_id)
            if user is None:
                raise Unauthenticated("The access token is revoked.", code="token_revoked")
            await reserve_attempt(
                session,
                allowances=self._d.allowances,
                email_key=user.email_key,
                caller=caller,
                now=self._d.clock.now(),
            )
        if not await self._d.passwords.verify(user.password_hash, current_password):
            raise PermissionDenied("The current password is wrong.", code="invalid_credentials")
        check_password_policy(password, email=user.email)
        new_hash = await self._d.passwords.hash(password)
        async with self._d.db.transaction() as session:
            now = self._d.clock.now()
            await clear_failures(session, email_key=user.email_key, caller=caller)
            await session.execute(
                update(User)
                .where(User.id == user.id)
                .values(password_hash=new_hash, updated_at=now)
            )
            await revoke_sessions(session, now=now, user_id=user.id, keep=principal.session_id)
            await _audit(session, "auth.password_changed", user.id, actor_id=user.id, now=now)
            self._d.notices.send(session, PASSWORD_CHANGED, to=user.email, now=now)

    async def has_password(self, *, user_id: uuid.UUID) -> bool:
        async with self._d.db.read() as session:
            found = await session.scalar(select(User.password_hash).where(User.id == user_id))
        return found is not None

    async def set_first_password(self, *, principal: Principal, password: str) -> None:
        """Give a password to an account that has none (made by an emailed code, an admin
        or a billing event); every other session ends, as on a change. An account that has
        one must change it with the current password."""
        async with self._d.db.read() as session:
            user = await session.get(User, principal.user_id)
        if user is None:
            raise Unauthenticated("The access token is revoked.", code="token_revoked")
        check_password_policy(password, email=user.email)
        new_hash = await self._d.passwords.hash(password)
        async with self._d.db.transaction() as session:
            now = self._d.clock.now()
            updated = await session.execute(
                update(User)
                .where(User.id == user.id, User.password_hash.is_(None))
                .values(password_hash=new_hash, updated_at=now)
            )
            if updated.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict("This account already has a password.", code="password_already_set")
            await revoke_sessions(session, now=now, user_id=user.id, keep=principal.session_id)
            await _audit(session, "auth.password_set", user.id, actor_id=user.id, now=now)
            self._d.notices.send(session, PASSWORD_SET, to=user.email, now=now)


async def _audit(
    session: AsyncSession,
    action: str,
    user_id: uuid.UUID,
    *,
    actor_id: uuid.UUID | None,
    now: datetime,
) -> None:
    await record_audit(
        session,
        action=action,
        tenant_id=None,
        actor_id=actor_id,
        target_type="user",
        target_id=str(user_id),
        now=now,
    )
