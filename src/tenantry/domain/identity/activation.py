"""Activating an account: the first proof of email ownership confirms the user, replaces any
password set before that proof (so a pre-registered attacker's password dies) and runs the
onboarding transaction, exactly once even when raced. An account a platform admin or a payment
provisioned already has its workspace; activating it only confirms it. An unconfirmed account
never had a session or a token (login refuses it), so there is nothing else to revoke."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from tenantry.domain.accounts.onboarding import NewUser, confirmed_event, create_personal_workspace
from tenantry.domain.events.outbox import record_events
from tenantry.faults import Faults
from tenantry.storage.models import User
from tenantry.storage.tables import TENANTS, USERS

CONFIRM_USER = (
    USERS.update()
    .where(USERS.c.id == bindparam("b_user"), USERS.c.email_verified.is_(False))
    .values(
        email_verified=True, password_hash=bindparam("b_password"), updated_at=bindparam("b_now")
    )
)
FIND_WORKSPACE = select(TENANTS.c.id).where(TENANTS.c.personal_owner_id == bindparam("b_user"))


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
    new_user = NewUser(user.id, user.email, user.name)
    changes: dict[str, object] = {
        "email_verified": True,
        "password_hash": password_hash,
        "updated_at": now,
    }
    if await connection.scalar(FIND_WORKSPACE, {"b_user": user.id}) is None:
        changes["default_tenant_id"] = await create_personal_workspace(
            session, user=new_user, now=now, faults=faults
        )
    else:
        await record_events(session, [confirmed_event(new_user)], now=now)
    # Bring the loaded object up to date without another SELECT (the writes above are Core).
    for attribute, value in changes.items():
        set_committed_value(user, attribute, value)
    return True
