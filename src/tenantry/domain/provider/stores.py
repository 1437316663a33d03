"""Where a tenant's data lives: the shared pool tables of the core database, or its silo. The
silo's locator is kept on the tenant row sealed with the master key, since on PostgreSQL it
carries the server's credentials."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from tenantry.domain.identity.masterkey import SecretBox
from tenantry.storage.database import Database, Store
from tenantry.storage.migrate import upgrade_tenant_store_async
from tenantry.storage.models import Tenant
from tenantry.storage.silos import SiloStores


def silo_locator_context(tenant_id: uuid.UUID) -> str:
    return f"silo-locator:{tenant_id}"


class TenantStores:
    def __init__(self, *, db: Database, silos: SiloStores, box: SecretBox) -> None:
        self.db = db
        self.silos = silos
        self._box = box

    def seal(self, tenant_id: uuid.UUID, locator: str) -> bytes:
        return self._box.encrypt(locator.encode(), context=silo_locator_context(tenant_id))

    def unseal(self, tenant_id: uuid.UUID, sealed: bytes) -> str:
        return self._box.decrypt(sealed, context=silo_locator_context(tenant_id)).decode()

    async def upgrade_silos(self) -> int:
        """Bring every silo's tenant data schema to the newest revision; how many silos."""
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(Tenant.id, Tenant.silo_locator_sealed).where(
                        Tenant.silo_locator_sealed.is_not(None)
                    )
                )
            ).all()
        locators = [self.unseal(tenant_id, sealed) for tenant_id, sealed in rows if sealed]
        for locator in locators:
            await upgrade_tenant_store_async(locator)
        return len(locators)

    async def drop_orphaned_silos(self) -> int:
        """Drop silos whose tenant is gone (deleted, then a crash before its silo was
        dropped). A provisioning run records its tenant before making the silo, so a silo
        without a tenant row is never one being built. How many were dropped."""
        found = await self.silos.tenant_ids()
        if not found:
            return 0
        async with self.db.read() as session:
            known = set(await session.scalars(select(Tenant.id).where(Tenant.id.in_(found))))
        for tenant_id in found - known:
            await self.silos.drop(tenant_id)
        return len(found - known)

    async def of(self, tenant: Tenant) -> Store:
        """The store holding `tenant`'s data."""
        if tenant.silo_locator_sealed is None:
            return self.db
        return await self.silos.store(self.unseal(tenant.id, tenant.silo_locator_sealed))
