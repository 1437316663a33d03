"""The feature check against the tenant as the database holds it now, for services that work
in a core-database session (webhooks, the audit log, experiments)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.plans.catalog import PlanCatalog
from tenantry.errors import NotFound
from tenantry.storage.models import Tenant


async def require_tenant_feature(
    session: AsyncSession, *, plans: PlanCatalog, tenant_id: uuid.UUID, feature: str
) -> None:
    """`PlanCatalog.require_feature` on the tenant row read in `session` (never a cached
    copy), so a plan change or a feature override applies to the next request on every
    worker."""
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("No such tenant.", code="tenant_not_found")
    plans.require_feature(tenant, feature)
