"""Activating an account: the first proof of email ownership confirms the user, replaces any
password set before that proof (so a pre-registered attacker's password dies) and runs the
onboarding transaction, exactly once even when raced."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.accounts.onboarding import NewUser, create_personal_workspace
from tenantry.domain.identity.sessions import revoke_sessions
from tenantry.faults import Faults
from tenantry.storage.models import User


async def activate_user(
    session: AsyncSession,
    *,
    user: User,
    password_hash: str | None,
    now: datetime,
    faults: Faults,
) -> bool:
    """Confirm `user` and create their workspace; False if someone else already did."""
    confirmed = await session.execute(
        update(User)
        .where(User.id == user.id, User.email_verified.is_(False))
        .values(
            email_verified=True, password_hash=password_hash, tokens_valid_after=now, updated_at=now
        )
    )
    if confirmed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    faults.checkpoint("onboarding.user")
    await revoke_sessions(session, now=now, user_id=user.id)
    await create_personal_workspace(
        session, user=NewUser(user.id, user.email, user.name), now=now, faults=faults
    )
    await session.refresh(user)
    return True
