"""Where a tenant's data lives: the shared pool tables of the core database, or its silo. The
silo's locator is kept on the tenant row sealed with the master key, since on PostgreSQL it
carries the server's credentials."""

from __future__ import annotations

import uuid

from tenantry.domain.identity.masterkey import SecretBox
from tenantry.storage.database import Database, Store
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

    async def of(self, tenant: Tenant) -> Store:
        """The store holding `tenant`'s data."""
        if tenant.silo_locator_sealed is None:
            return self.db
        return await self.silos.store(self.unseal(tenant.id, tenant.silo_locator_sealed))
