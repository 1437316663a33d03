"""Activating an account: the first proof of email ownership confirms the user, replaces any
password set before that proof (so a pre-registered attacker's password dies) and runs the
onboarding transaction, exactly once even when raced. An unconfirmed account never had a
session or a token (login refuses it), so there is nothing else to revoke."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from tenantry.domain.accounts.onboarding import NewUser, create_personal_workspace
from tenantry.faults import Faults
from tenantry.storage.models import User
from tenantry.storage.tables import USERS

CONFIRM_USER = (
    USERS.update()
    .where(USERS.c.id == bindparam("b_user"), USERS.c.email_verified.is_(False))
    .values(
        email_verified=True, password_hash=bindparam("b_password"), updated_at=bindparam("b_now")
    )
)


async def activate_user(
    session: AsyncSession,
    *,
    user: User,
    password_hash: str | None,
    now: datetime,
    faults: Faults,
) -> bool:
    """Confirm `user` and create their workspace; False if someone else already did."""
    connection = await session.connection()
    confirmed = await connection.execute(
        CONFIRM_USER, {"b_user": user.id, "b_password": password_hash, "b_now": now}
    )
    if confirmed.rowcount != 1:
        return False
    faults.checkpoint("onboarding.user")
    tenant_id = await create_personal_workspace(
        session, user=NewUser(user.id, user.email, user.name), now=now, faults=faults
    )
    # Bring the loaded object up to date without another SELECT (the writes above are Core).
    changes = {
        "email_verified": True,
        "password_hash": password_hash,
        "default_tenant_id": tenant_id,
        "updated_at": now,
    }
    for attribute, value in changes.items():
        set_committed_value(user, attribute, value)
    return True
