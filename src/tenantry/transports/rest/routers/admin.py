"""The platform-admin plane (SPEC §8): every tenant and user, for operators of the provider.
Each route takes `PlatformAdminDep`; none is tenant-scoped. Served on the public listener, or
alone on a private one (`tenantry serve --admin-listen`)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query, Response, status

from tenantry.domain.provider.admin_details import TenantDetails
from tenantry.domain.provider.admin_search import TenantListItem, TenantQuery, UserListItem
from tenantry.domain.provider.admin_tenants import AdminTenants, NewTenant, TenantChanges
from tenantry.transports.rest.deps import ContainerDep, PageDep, PlatformAdminDep
from tenantry.transports.rest.idempotency import CreateOnceDep, answered
from tenantry.transports.rest.limits import lift_deadline
from tenantry.transports.rest.openapi import problems
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.admin import (
    AdminTenantCreate,
    AdminTenantUpdate,
    TenantDisable,
    TenantStatus,
)
from tenantry.transports.rest.schemas.common import Page

router = PrefixedRouter(prefix="/v1/admin", tags=["admin"])
SearchText = Annotated[str | None, Query(max_length=200)]


async def admin_tenants(container: ContainerDep) -> AdminTenants:
    return container.admin_tenants


AdminTenantsDep = Annotated[AdminTenants, Depends(admin_tenants)]


def _body(details: TenantDetails) -> Any:
    return details.model_dump(mode="json")


@router.get("/tenants")
async def list_tenants(
    service: AdminTenantsDep,
    _admin: PlatformAdminDep,
    page: PageDep,
    q: SearchText = None,
    status: TenantStatus | None = None,
    plan: Annotated[str | None, Query(max_length=50)] = None,
) -> Page[TenantListItem]:
    """Search every tenant: `q` is part of the name (any case) or the exact tenant id."""
    found = await service.search(query=TenantQuery(q=q, status=status, plan=plan), page=page)
    return Page[TenantListItem].model_validate(found, from_attributes=True)


@router.post("/tenants", status_code=status.HTTP_201_CREATED, response_model=TenantDetails)
async def create_tenant(
    body: AdminTenantCreate,
    admin: PlatformAdminDep,
    service: AdminTenantsDep,
    once: CreateOnceDep,
) -> Response:
    """A tenant on any plan, owned by `owner_email` (an account is made for a new address and
    mailed an activation code for `POST /v1/auth/confirm`)."""
    key = once.key_claim(body, user_id=admin.user_id, answer=_body)
    new = NewTenant(
        name=body.name.strip() or body.name,
        plan=body.plan,
        owner_email=body.owner_email,
        owner_name=body.owner_name,
    )
    return answered(await service.create(new=new, admin_id=admin.user_id, key=key), _body)


@router.get("/tenants/{tenant_id}")
async def read_tenant(
    tenant_id: uuid.UUID, _admin: PlatformAdminDep, service: AdminTenantsDep
) -> TenantDetails:
    return await service.details(tenant_id=tenant_id)


# a plan change may move the tenant's data, as long as that takes
@router.patch("/tenants/{tenant_id}", dependencies=[Depends(lift_deadline)])
async def update_tenant(
    tenant_id: uuid.UUID,
    body: AdminTenantUpdate,
    admin: PlatformAdminDep,
    service: AdminTenantsDep,
) -> TenantDetails:
    """Rename; merge metadata and feature overrides; change the plan (between the pool and a
    silo the tenant's data moves before this answers)."""
    changes = TenantChanges(
        name=(body.name.strip() or body.name) if body.name is not None else None,
        plan=body.plan,
        metadata=body.metadata,
        features=body.features,
    )
    await service.update(tenant_id=tenant_id, changes=changes, admin_id=admin.user_id)
    return await service.details(tenant_id=tenant_id)


@router.post("/tenants/{tenant_id}/disable")
async def disable_tenant(
    tenant_id: uuid.UUID,
    admin: PlatformAdminDep,
    service: AdminTenantsDep,
    body: TenantDisable | None = None,
) -> TenantDetails:
    """Every member's tenant-scoped requests answer 403 `tenant_disabled`; data is kept."""
    reason = body.reason if body is not None else None
    await service.disable(tenant_id=tenant_id, reason=reason, admin_id=admin.user_id)
    return await service.details(tenant_id=tenant_id)


@router.post("/tenants/{tenant_id}/enable")
async def enable_tenant(
    tenant_id: uuid.UUID, admin: PlatformAdminDep, service: AdminTenantsDep
) -> TenantDetails:
    await service.enable(tenant_id=tenant_id, admin_id=admin.user_id)
    return await service.details(tenant_id=tenant_id)


@router.get("/users")
async def list_users(
    container: ContainerDep, _admin: PlatformAdminDep, page: PageDep, q: SearchText = None
) -> Page[UserListItem]:
    """Users whose email or name contains `q` (any case)."""
    found = await container.admin_users.search(q=q, page=page)
    return Page[UserListItem].model_validate(found, from_attributes=True)


@router.post(
    "/users/{user_id}/disable", status_code=status.HTTP_204_NO_CONTENT, responses=problems(409)
)
async def disable_user(
    user_id: uuid.UUID, admin: PlatformAdminDep, container: ContainerDep
) -> Response:
    """The account can no longer sign in; its sessions end and every token it holds is refused
    from the next request on. An admin's own account: 409 `own_account`."""
    await container.admin_users.disable(user_id=user_id, admin_id=admin.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/users/{user_id}/enable", status_code=status.HTTP_204_NO_CONTENT)
async def enable_user(
    user_id: uuid.UUID, admin: PlatformAdminDep, container: ContainerDep
) -> Response:
    await container.admin_users.enable(user_id=user_id, admin_id=admin.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
