"""The storage router (SPEC §10): a tenant-scoped unit of work on whichever store holds the
tenant's data, chosen from the request's tenant context. Services in this package take the
session it yields and are written as if there were one tenant; the session scopes them (see
`storage/tenant_sessions.py`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.caching import CachedReader
from tenantry.domain.provider.stores import TenantStores
from tenantry.errors import Conflict, NotFound
from tenantry.storage.database import Store
from tenantry.storage.models import Tenant
from tenantry.storage.tenant_sessions import TenantDataMoving, tenant_session

MOVING_RETRY_SECONDS = 5


@dataclass(frozen=True)
class Placement:
    """Where a tenant's data lives: the pool (no locator) or its silo."""

    tenant_id: uuid.UUID
    silo_locator_sealed: bytes | None


async def _read_placement(session: AsyncSession, tenant_id: uuid.UUID) -> Placement:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("No such tenant.", code="tenant_not_found")
    return Placement(tenant.id, tenant.silo_locator_sealed)


class TenantDataUnavailable(Conflict):
    code = "tenant_data_moving"

    def __init__(self) -> None:
        super().__init__("The tenant's data is moving to another plan; retry shortly.")
        self.retry_after = MOVING_RETRY_SECONDS


class TenantData:
    def __init__(self, *, stores: TenantStores) -> None:
        self._stores = stores
        # A plan change that moves the data bumps the access epoch when it switches stores.
        self._placements: CachedReader[uuid.UUID, Placement] = CachedReader(
            stores.db, _read_placement
        )

    async def store_of(self, tenant_id: uuid.UUID) -> Store:
        placement = await self._placements.get(tenant_id)
        if placement.silo_locator_sealed is None:
            return self._stores.db
        locator = self._stores.unseal(tenant_id, placement.silo_locator_sealed)
        return await self._stores.silos.store(locator)

    @asynccontextmanager
    async def unit(self, tenant_id: uuid.UUID, *, write: bool) -> AsyncIterator[AsyncSession]:
        """A unit of work that sees and writes only `tenant_id`'s data. Writes are refused
        with TenantDataUnavailable (`tenant_data_moving`) while a plan change copies the data."""
        store = await self.store_of(tenant_id)
        try:
            async with tenant_session(store, tenant_id, write=write) as session:
                yield session
        except TenantDataMoving:
            raise TenantDataUnavailable() from None
