"""Untimed set-up written straight into a deployment's database through the domain layer:
users inserted the way sign-up inserts them, activated by the onboarding transaction, and
sessions opened the way sign-in opens them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import insert, select

from tenantry.clock import Clock
from tenantry.domain.identity.activation import activate_user
from tenantry.domain.identity.sessions import ClientInfo, start_session
from tenantry.domain.identity.toolkit import email_key
from tenantry.faults import Faults
from tenantry.storage.database import Database
from tenantry.storage.models import User

BATCH = 500
SESSION_TTL = timedelta(hours=1)
BENCH_CLIENT = ClientInfo(ip="127.0.0.1", user_agent="tenantry-bench")


def bench_emails(prefix: str, count: int) -> list[str]:
    return [f"{prefix}.{index}@bench.test" for index in range(count)]


async def insert_unconfirmed_users(db: Database, emails: Sequence[str]) -> list[uuid.UUID]:
    """New, unconfirmed users (as sign-up leaves them), inserted in batches."""
    now = Clock().now()
    ids = [uuid.uuid4() for _ in emails]
    rows = [
        {
            "id": user_id,
            "email": email,
            "email_key": email_key(email),
            "name": "",
            "email_verified": False,
            "is_platform_admin": False,
            "tokens_valid_after": now,
            "created_at": now,
            "updated_at": now,
        }
        for user_id, email in zip(ids, emails, strict=True)
    ]
    for start in range(0, len(rows), BATCH):
        async with db.transaction() as session:
            await session.execute(insert(User), rows[start : start + BATCH])
    return ids


async def onboard(db: Database, email: str, *, password_hash: str | None) -> bool:
    """The confirmation's onboarding transaction for an existing unconfirmed user."""
    async with db.transaction() as session:
        user = await session.scalar(select(User).where(User.email_key == email_key(email)))
        if user is None:
            return False
        return await activate_user(
            session, user=user, password_hash=password_hash, now=Clock().now(), faults=Faults()
        )


async def add_confirmed_users(url: str, emails: Sequence[str], *, like: str) -> None:
    """Confirmed users with workspaces and the same password hash as the user `like`."""
    db = Database(url)
    try:
        async with db.read() as session:
            password_hash = await session.scalar(
                select(User.password_hash).where(User.email_key == email_key(like))
            )
        await insert_unconfirmed_users(db, emails)
        for email in emails:
            await onboard(db, email, password_hash=password_hash)
    finally:
        await db.dispose()


async def mint_refresh_tokens(url: str, user_id: uuid.UUID, count: int) -> list[str]:
    """`count` fresh sessions for the user, each with its first refresh token."""
    db = Database(url)
    tokens: list[str] = []
    try:
        for start in range(0, count, BATCH):
            async with db.transaction() as session:
                for _ in range(min(BATCH, count - start)):
                    _session_id, token = await start_session(
                        session,
                        user_id=user_id,
                        now=Clock().now(),
                        ttl=SESSION_TTL,
                        client=BENCH_CLIENT,
                    )
                    tokens.append(token)
    finally:
        await db.dispose()
    return tokens
