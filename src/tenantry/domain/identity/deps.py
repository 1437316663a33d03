"""What the identity flows share: storage, clock, hashers, token issuers and policies."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.identity.codes import CodePolicy
from tenantry.domain.identity.passwords import PasswordHasher
from tenantry.domain.identity.secrets import SecretHasher
from tenantry.domain.identity.sessions import ClientInfo, start_session
from tenantry.domain.identity.throttle import LockoutPolicy
from tenantry.domain.identity.tokens import AccessTokens, TokenSubject
from tenantry.domain.mail.outbox import MailOutbox
from tenantry.faults import Faults
from tenantry.storage.database import Database
from tenantry.storage.models import User


def email_key(email: str) -> str:
    """The case-insensitive identity of an address: one account per key."""
    return email.strip().lower()


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str


@dataclass
class IdentityDeps:
    db: Database
    clock: Clock
    passwords: PasswordHasher
    secrets: SecretHasher
    tokens: AccessTokens
    mail: MailOutbox
    faults: Faults
    codes: CodePolicy
    lockout: LockoutPolicy
    session_ttl: timedelta
    public_url: str

    async def user_by_email(self, session: AsyncSession, email: str) -> User | None:
        return await session.scalar(select(User).where(User.email_key == email_key(email)))

    async def sign_in(self, session: AsyncSession, *, user: User, client: ClientInfo) -> TokenPair:
        """Open a session for `user` and issue its first token pair."""
        session_id, refresh_token = await start_session(
            session, user_id=user.id, now=self.clock.now(), ttl=self.session_ttl, client=client
        )
        return TokenPair(self.access_token(user, session_id), self.tokens.ttl, refresh_token)

    def access_token(self, user: User, session_id: uuid.UUID) -> str:
        return self.tokens.issue(
            TokenSubject(
                user_id=user.id,
                session_id=session_id,
                email=user.email,
                email_verified=user.email_verified,
                tenant_id=user.default_tenant_id,
            )
        )
