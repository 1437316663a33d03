"""Platform admins and user accounts: whether a user is a platform admin now; finding users;
and disabling an account (like Cognito's AdminDisableUser) and enabling it again. A disabled
account cannot sign in, refresh or use a token it holds; its memberships and data stay."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.events.outbox import Event, record_events
from tenantry.domain.identity.sessions import revoke_sessions
from tenantry.domain.pagination import Page, PageRequest
from tenantry.domain.provider.admin_search import UserListItem, search_users
from tenantry.domain.provider.admins import is_platform_admin
from tenantry.errors import Conflict, NotFound
from tenantry.storage.database import Database
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.models import User


class AdminUsers:
    def __init__(self, *, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def is_platform_admin(self, *, user_id: uuid.UUID) -> bool:
        """Read on every request, as `is_platform_admin` explains."""
        async with self._db.read() as session:
            return await is_platform_admin(session, user_id)

    async def search(self, *, q: str | None, page: PageRequest) -> Page[UserListItem]:
        """Users whose email or name contains `q` (any case), oldest first."""
        async with self._db.read() as session:
            return await search_users(session, q=q, page=page)

    async def disable(self, *, user_id: uuid.UUID, admin_id: uuid.UUID) -> None:
        """Every session of the user ends now (refresh tokens dead, access tokens refused by
        the next request on every worker). Disabling a disabled account changes nothing; an
        admin cannot disable their own account (a lone admin would lock the console)."""
        if user_id == admin_id:
            raise Conflict("You cannot disable your own account.", code="own_account")
        async with self._db.transaction() as session:
            user = await _locked_user(session, user_id)
            if user.disabled_at is not None:
                return
            now = self._clock.now()
            user.disabled_at = user.updated_at = now
            await revoke_sessions(session, now=now, user_id=user_id)
            data = {"user_id": str(user_id), "disabled": True}
            await record_events(session, [Event("user.updated", None, admin_id, data)], now=now)

    async def enable(self, *, user_id: uuid.UUID, admin_id: uuid.UUID) -> None:
        """The account may sign in again (its old sessions stay ended)."""
        async with self._db.transaction() as session:
            user = await _locked_user(session, user_id)
            if user.disabled_at is None:
                return
            now = self._clock.now()
            user.disabled_at, user.updated_at = None, now
            data = {"user_id": str(user_id), "disabled": False}
            await record_events(session, [Event("user.updated", None, admin_id, data)], now=now)
            await bump_access_epoch(session)  # cached "disabled" answers end now


async def _locked_user(session: AsyncSession, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("No such user.", code="user_not_found")
    return user
