"""The tenant of the request: getOrg, its profile, deleting it (SPEC §6)."""

from __future__ import annotations

import uuid

from cachetools import LRUCache
from fastapi import Response, status

from tenantry.domain.accounts.tenants import TenantView
from tenantry.transports.rest.deps import ContainerDep, TenantDep
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.tenant import TenantUpdate

router = PrefixedRouter(prefix="/v1/tenant", tags=["tenant"])


class RenderedViews:
    """The JSON body of each tenant's view, rendered once per view object. `tenant_views`
    hands out the same object for as long as its epoch-stamped entry is valid, so an identity
    check is all it takes to know the body is current; a new view (any epoch bump) is rendered
    afresh. Least recently used tenants go first beyond `max_entries`."""

    def __init__(self, *, max_entries: int = 50_000) -> None:
        self._bodies: LRUCache[uuid.UUID, tuple[TenantView, bytes]] = LRUCache(max_entries)

    def body(self, view: TenantView) -> bytes:
        entry = self._bodies.get(view.id)
        if entry is not None and entry[0] is view:
            return entry[1]
        # Serialized here: a returned model would be validated once more on the way out.
        body = view.model_dump_json().encode()
        self._bodies[view.id] = (view, body)
        return body


# Validating and serializing the view was a visible share of the request (docs/benchmarks.md,
# "Measured in code").
_rendered = RenderedViews()


@router.get("", response_model=TenantView)
async def read_tenant(container: ContainerDep, tenant: TenantDep) -> Response:
    view = await container.tenant_views.get(tenant.tenant_id)
    return Response(_rendered.body(view), media_type="application/json")


@router.patch("")
async def patch_tenant(
    body: TenantUpdate, container: ContainerDep, tenant: TenantDep
) -> TenantView:
    profile = (
        body.profile.model_dump(mode="json", exclude_unset=True)
        if body.profile is not None
        else None
    )
    await container.tenants.update(actor=tenant.actor, name=body.name, profile=profile)
    return await container.tenant_views.get(tenant.tenant_id)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT)
async def remove_tenant(container: ContainerDep, tenant: TenantDep) -> Response:
    await container.tenants.delete(actor=tenant.actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
