"""The tenant of the request: getOrg, its profile, deleting it (SPEC §6)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from tenantry.domain.accounts.tenants import delete_tenant, update_tenant
from tenantry.transports.rest.deps import ContainerDep, TenantDep
from tenantry.transports.rest.schemas.tenant import TenantRead, TenantUpdate

router = APIRouter(prefix="/v1/tenant", tags=["tenant"])


@router.get("", response_model=TenantRead)
async def read_tenant(container: ContainerDep, tenant: TenantDep) -> Response:
    view = TenantRead.model_validate(await container.tenant_views.get(tenant.tenant_id))
    # Serialized here: a returned model would be validated once more on the way out, a
    # measurable share of this hot read (bench/http_tenant.py).
    return Response(view.model_dump_json(), media_type="application/json")


@router.patch("")
async def patch_tenant(
    body: TenantUpdate, container: ContainerDep, tenant: TenantDep
) -> TenantRead:
    async with container.db.transaction() as session:
        await update_tenant(
            session,
            actor=tenant.actor,
            now=container.clock.now(),
            name=body.name,
            profile=body.profile.model_dump(mode="json", exclude_unset=True)
            if body.profile is not None
            else None,
        )
    return TenantRead.model_validate(await container.tenant_views.get(tenant.tenant_id))


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
async def remove_tenant(container: ContainerDep, tenant: TenantDep) -> Response:
    async with container.db.transaction() as session:
        deleted = await delete_tenant(session, actor=tenant.actor, now=container.clock.now())
    if deleted.isolation == "silo":
        await container.stores.silos.drop(deleted.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
