"""What the identity flows share: storage, clock, hashers, token issuers and policies."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.detached import Detached
from tenantry.domain.events.outbox import Event, record_events
from tenantry.domain.identity.codes import CodePolicy, UsedCode, invalid_code, issue_code, use_code
from tenantry.domain.identity.devices import DeviceProofs
from tenantry.domain.identity.notices import SecurityNotices
from tenantry.domain.identity.passwords import PasswordHasher
from tenantry.domain.identity.secrets import SecretHasher
from tenantry.domain.identity.sessions import ClientInfo, TokenHolder, start_session
from tenantry.domain.identity.throttle import (
    Allowances,
    Caller,
    check_mailing,
    reserve_hashing,
    reserve_mailing,
)
from tenantry.domain.identity.tokens import AccessTokens, TokenSubject
from tenantry.domain.lanes import Lane
from tenantry.domain.mail.outbox import MailOutbox
from tenantry.faults import Faults
from tenantry.storage.database import Database
from tenantry.storage.models import User
from tenantry.storage.upsert import insert_on_conflict

# A new account has no token to invalidate, including one an external issuer minted a moment
# before the account was created on first sight of it.
BEGINNING_OF_TIME = datetime(1970, 1, 1, tzinfo=UTC)


def email_key(email: str) -> str:
    """The case-insensitive identity of an address: one account per key."""
    return email.strip().lower()


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    # for the client to present at its next sign-in (DeviceProofs); a refresh hands none out
    device_token: str | None = None


@dataclass
class IdentityToolkit:
    db: Database
    clock: Clock
    passwords: PasswordHasher
    secrets: SecretHasher
    tokens: AccessTokens
    mail: MailOutbox
    notices: SecurityNotices
    faults: Faults
    codes: CodePolicy
    allowances: Allowances
    devices: DeviceProofs
    detached: Detached
    mail_lane: Lane  # the anonymous routes that mail: sign-up, codes, resets, registrations
    session_ttl: timedelta
    public_url: str

    async def user_by_email(self, session: AsyncSession, email: str) -> User | None:
        return await session.scalar(select(User).where(User.email_key == email_key(email)))

    async def ensure_user(self, session: AsyncSession, *, email: str, name: str = "") -> User:
        """The account for `email`, created unconfirmed if new. Raced creations meet on the
        unique email key: one insert wins, the others find its row."""
        await self.create_user(session, email=email, name=name)
        user = await self.user_by_email(session, email)
        assert user is not None
        return user

    async def create_user(
        self, session: AsyncSession, *, email: str, name: str = ""
    ) -> uuid.UUID | None:
        """A new unconfirmed account for `email`, or None when the address already has one."""
        now = self.clock.now()
        created: uuid.UUID | None = await session.scalar(
            insert_on_conflict(session, User)
            .values(
                id=uuid.uuid4(),
                email=email.strip(),
                email_key=email_key(email),
                name=name,
                email_verified=False,
                is_platform_admin=False,
                tokens_valid_after=BEGINNING_OF_TIME,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=[User.email_key])
            .returning(User.id)
        )
        if created is not None:
            event = Event("user.created", None, created, {"user_id": str(created)})
            await record_events(session, [event], now=now)
        return created

    @asynccontextmanager
    async def mail_transaction(self) -> AsyncIterator[AsyncSession]:
        """A transaction of an anonymous request for mail, admitted through the mail lane."""
        async with self.mail_lane.admitted(), self.db.transaction() as session:
            yield session

    def caller(self, client: ClientInfo, user_id: uuid.UUID | None) -> Caller:
        """The client as the allowances count it: the device it proved holds `user_id`'s
        account, else its address."""
        return Caller.of(ip=client.ip, device_id=self.devices.device_of(user_id, client.device))

    async def count_mailing(self, session: AsyncSession, email: str, client: ClientInfo) -> None:
        """Count a mail an anonymous caller asked to be sent to `email` (a code, or the note
        that an account exists): `Throttled` past the allowance, whether or not the address
        has an account. Call it before anything else is looked up but the device proof."""
        key = email_key(email)
        await reserve_mailing(
            session,
            allowances=self.allowances,
            email_key=key,
            caller=self.caller(client, await self._proof_owner(session, key, client)),
            now=self.clock.now(),
        )

    async def check_mailing(self, session: AsyncSession, email: str, client: ClientInfo) -> None:
        """`Throttled` if `count_mailing` would refuse, counting nothing."""
        key = email_key(email)
        await check_mailing(
            session,
            allowances=self.allowances,
            email_key=key,
            caller=self.caller(client, await self._proof_owner(session, key, client)),
            now=self.clock.now(),
        )

    async def _proof_owner(
        self, session: AsyncSession, key: str, client: ClientInfo
    ) -> uuid.UUID | None:
        """The account a presented device proof would be checked against."""
        if client.device is None:
            return None
        return await session.scalar(select(User.id).where(User.email_key == key))

    async def count_hashing(self, session: AsyncSession, client: ClientInfo) -> None:
        """Count an anonymous request that is about to run Argon2 against its client."""
        await reserve_hashing(
            session, allowances=self.allowances, ip=client.ip, now=self.clock.now()
        )

    async def claim_code(
        self, *, email: str, purpose: str, code: str, client: ClientInfo
    ) -> UsedCode:
        """Take `code` in a transaction of its own, after counting the client's hashing
        allowance: for flows that hash a new password once the code is known to be right.
        `invalid_code` (the try stays counted) for a wrong, expired, used or burned code."""
        async with self.db.transaction() as session:
            await self.count_hashing(session, client)
            used = await use_code(
                session,
                hasher=self.secrets,
                policy=self.codes,
                email_key=email_key(email),
                purpose=purpose,
                code=code,
                now=self.clock.now(),
            )
        if used is None:
            raise invalid_code()
        return used

    async def send_code(
        self,
        session: AsyncSession,
        *,
        user: User,
        purpose: str,
        template: str,
        password_hash: str | None = None,
        ttl: timedelta | None = None,
        context: dict[str, object] | None = None,
    ) -> None:
        """Issue a fresh code for `purpose` (alive for `ttl`, else the policy's) and queue the
        mail that carries it; `context` adds to the template's values."""
        code = await issue_code(
            session,
            hasher=self.secrets,
            policy=self.codes,
            email_key=user.email_key,
            purpose=purpose,
            now=self.clock.now(),
            password_hash=password_hash,
            ttl=ttl,
        )
        minutes = int((ttl or self.codes.ttl).total_seconds() // 60)
        self.mail.enqueue(
            session,
            to=user.email,
            template=template,
            context={**(context or {}), "code": code, "minutes": minutes},
        )

    async def sign_in(
        self, session: AsyncSession, *, user: User | TokenHolder, client: ClientInfo
    ) -> TokenPair:
        """Open a session for `user` and issue its first token pair; a sign-in from a new
        device is mailed to the owner."""
        now = self.clock.now()
        session_id, refresh_token = await start_session(
            session, user_id=user.id, now=now, ttl=self.session_ttl, client=client
        )
        await self.notices.signed_in(
            session, user_id=user.id, email=user.email, client=client, now=now
        )
        return TokenPair(
            self.access_token(user, session_id),
            self.tokens.ttl,
            refresh_token,
            self.devices.issue(user.id, client.device),
        )

    def access_token(self, user: User | TokenHolder, session_id: uuid.UUID) -> str:
        return self.tokens.issue(
            TokenSubject(
                user_id=user.id,
                session_id=session_id,
                email=user.email,
                email_verified=user.email_verified,
                tenant_id=user.default_tenant_id,
            )
        )
