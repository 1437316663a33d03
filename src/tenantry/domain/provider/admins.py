"""Platform admins: operators of the SaaS provider, not a tenant role."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.identity.activation import activate_user
from tenantry.domain.identity.passwords import check_password_policy
from tenantry.domain.identity.toolkit import IdentityToolkit
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.models import User


async def ensure_platform_admin(
    toolkit: IdentityToolkit, *, email: str, password: str
) -> uuid.UUID:
    """Create a confirmed account with its workspace, or promote an existing one; either way
    `password` becomes its password."""
    check_password_policy(password, email=email)
    password_hash = await toolkit.passwords.hash(password)
    async with toolkit.db.transaction() as session:
        now = toolkit.clock.now()
        user = await toolkit.ensure_user(session, email=email)
        if not user.email_verified:
            await activate_user(
                session, user=user, password_hash=password_hash, now=now, faults=toolkit.faults
            )
        await session.execute(
            update(User)
            .where(User.id == user.id)
            .values(is_platform_admin=True, password_hash=password_hash, updated_at=now)
        )
        await bump_access_epoch(session)
        return user.id


async def is_platform_admin(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Read from the database on every admin request, not from the access cache: a demotion
    written straight to the table (no epoch bump) holds from the next request on."""
    flag = await session.scalar(
        select(User.is_platform_admin).where(User.id == user_id, User.disabled_at.is_(None))
    )
    return bool(flag)
