"""Sign-up, passwordless email codes and confirmation (SPEC §4). Every answer is the same
whatever state the address is in, so the API cannot be used to find accounts."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.accounts.onboarding_progress import start_for_new_account
from tenantry.domain.audit import record_audit
from tenantry.domain.identity.activation import activate_user
from tenantry.domain.identity.codes import UsedCode, invalid_code, use_code
from tenantry.domain.identity.login import audit_login
from tenantry.domain.identity.passwords import check_password_policy
from tenantry.domain.identity.sessions import ClientInfo
from tenantry.domain.identity.toolkit import IdentityToolkit, TokenPair, email_key
from tenantry.storage.models import User

CONFIRM = "confirm"


class SignUpFlow:
    def __init__(
        self,
        toolkit: IdentityToolkit,
        *,
        on_confirmed: Callable[[uuid.UUID], Awaitable[None]] | None = None,
    ) -> None:
        """`on_confirmed(user_id)` runs after each successful confirmation has committed (the
        provider plane completes the user's waiting registrations there)."""
        self._d = toolkit
        self._on_confirmed = on_confirmed

    async def sign_up(
        self, *, email: str, password: str, name: str | None, client: ClientInfo
    ) -> None:
        """Mail a confirmation code, or tell an existing account's owner it exists. The
        allowances are counted before the password is hashed, so a throttled caller costs no
        Argon2 work."""
        check_password_policy(password, email=email)
        async with self._d.mail_transaction() as session:
            await self._d.count_hashing(session, client)
            await self._d.count_mailing(session, email, client)
        password_hash = await self._d.passwords.hash(password)
        async with self._d.mail_transaction() as session:
            user = await self._d.ensure_user(session, email=email, name=name or "")
            await self._audit_anonymous(session, "auth.signup", user.id)
            if user.email_verified:
                self._d.mail.enqueue(
                    session,
                    to=user.email,
                    template="already_registered",
                    context={"login_url": f"{self._d.public_url}/login"},
                )
                return
            await session.execute(
                update(User)
                .where(User.id == user.id, User.email_verified.is_(False))
                .values(
                    password_hash=password_hash,
                    name=name or user.name,
                    updated_at=self._d.clock.now(),
                )
            )
            await self._d.send_code(
                session,
                user=user,
                purpose=CONFIRM,
                template="confirm_code",
                password_hash=password_hash,
            )

    async def request_email_code(self, *, email: str, client: ClientInfo) -> None:
        """Passwordless: mail a code that signs up a new address or signs in a known one."""
        async with self._d.mail_transaction() as session:
            await self._d.count_mailing(session, email, client)
            user = await self._d.ensure_user(session, email=email)
            if user.disabled_at is not None:
                return  # the same answer; a code could not sign this account in anyway
            await self._d.send_code(session, user=user, purpose=CONFIRM, template="confirm_code")
            await self._audit_anonymous(session, "auth.email_code_requested", user.id)

    async def _audit_anonymous(
        self, session: AsyncSession, action: str, user_id: uuid.UUID
    ) -> None:
        """A request about an account by whoever knows its address (no actor yet)."""
        await record_audit(
            session,
            action=action,
            tenant_id=None,
            actor_id=None,
            target_type="user",
            target_id=str(user_id),
            now=self._d.clock.now(),
        )

    async def confirm(
        self, *, email: str, code: str, password: str | None, client: ClientInfo
    ) -> TokenPair:
        """Confirm the address with its code and sign in. A new password is hashed only once
        the code has been taken, in a transaction of its own, so a wrong code costs no Argon2
        work; without one the code is taken in the one transaction."""
        used: UsedCode | None = None
        new_hash = None
        if password is not None:
            check_password_policy(password, email=email)
            used = await self._d.claim_code(email=email, purpose=CONFIRM, code=code, client=client)
            new_hash = await self._d.passwords.hash(password)
        pair: TokenPair | None = None
        async with self._d.db.transaction() as session:
            now = self._d.clock.now()
            used = used or await use_code(
                session,
                hasher=self._d.secrets,
                policy=self._d.codes,
                email_key=email_key(email),
                purpose=CONFIRM,
                code=code,
                now=now,
            )
            user = await self._d.user_by_email(session, email) if used else None
            if used and user and user.disabled_at is None:
                if not user.email_verified:
                    await activate_user(
                        session,
                        user=user,
                        now=now,
                        faults=self._d.faults,
                        password_hash=new_hash or used.password_hash,
                    )
                elif new_hash and user.password_hash is None:
                    user.password_hash = new_hash
                pair = await self._d.sign_in(session, user=user, client=client)
                await audit_login(session, user.id, method="email_code", now=now)
        if pair is None or user is None:
            raise invalid_code()
        if self._on_confirmed is not None:
            await self._on_confirmed(user.id)
        return pair

    async def start_onboarding(self, *, email: str) -> uuid.UUID | None:
        """After a confirmation: the tenant whose onboarding wizard the account should land on
        (the first time only; see `start_for_new_account`), or None."""
        async with self._d.db.transaction() as session:
            return await start_for_new_account(
                session, email_key=email_key(email), now=self._d.clock.now()
            )
