"""Webhook endpoints (SPEC §9): `/v1/webhook-endpoints` for a tenant's admins and the same
routes under `/v1/admin/webhook-endpoints` for platform admins, over every tenant."""

# No `from __future__ import annotations`: the routes are built in a function and FastAPI
# must see their dependency annotations as objects, not names to look up in this module.

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Response, status

from tenantry.domain.webhooks.endpoints import (
    CreatedEndpoint,
    DeliveryView,
    EndpointScope,
    EndpointView,
)
from tenantry.transports.rest.deps import ContainerDep, PageDep, PlatformAdminDep, TenantDep
from tenantry.transports.rest.idempotency import CreateOnceDep, answered
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.common import Page
from tenantry.transports.rest.schemas.webhooks import AdminEndpointCreate, EndpointCreate

ENDPOINT = "/{endpoint_id}"


async def tenant_scope(tenant: TenantDep) -> EndpointScope:
    return EndpointScope.of_tenant(tenant.actor)


async def platform_scope(admin: PlatformAdminDep) -> EndpointScope:
    return EndpointScope.platform(admin.user_id)


def _router(
    prefix: str,
    scope_of: Callable[..., Awaitable[EndpointScope]],
    body_type: type[EndpointCreate],
) -> APIRouter:
    router = PrefixedRouter(prefix=prefix, tags=["webhooks"])
    scope = Depends(scope_of)
    _add_create(router, scope, body_type)
    _add_reads(router, scope)
    _add_delete(router, scope)
    _add_delivery_routes(router, scope)
    return router


# Each `_add_*` takes the router's scope dependency (the tenant's or the platform's, the one
# thing the two routers tell apart) as the default of the routes' `scope` parameter. The
# parameters are keyword-only so that they keep their order, in which FastAPI resolves the
# dependencies (authentication before the Idempotency-Key header, say).


def _add_create(router: APIRouter, scope: Any, body_type: type[EndpointCreate]) -> None:
    @router.post("", status_code=status.HTTP_201_CREATED, response_model=CreatedEndpoint)
    async def create_endpoint(
        *,
        body: body_type,  # type: ignore[valid-type]  # one of the two create bodies
        container: ContainerDep,
        scope: EndpointScope = scope,
        once: CreateOnceDep,
    ) -> Response:
        request: EndpointCreate = body
        key = once.key_claim(request, user_id=scope.actor_id, answer=_render_created)
        created = await container.webhook_endpoints.create(
            scope=scope,
            url=request.url,
            event_types=request.events,
            tenant_id=getattr(request, "tenant_id", None),
            key=key,
        )
        return answered(created, _render_created)


def _add_reads(router: APIRouter, scope: Any) -> None:
    @router.get("")
    async def list_endpoints(
        *, container: ContainerDep, scope: EndpointScope = scope, page: PageDep
    ) -> Page[EndpointView]:
        found = await container.webhook_endpoints.list(scope=scope, page=page)
        return Page[EndpointView].model_validate(found, from_attributes=True)

    @router.get(ENDPOINT)
    async def read_endpoint(
        endpoint_id: uuid.UUID, container: ContainerDep, scope: EndpointScope = scope
    ) -> EndpointView:
        return await container.webhook_endpoints.get(scope=scope, endpoint_id=endpoint_id)


def _add_delete(router: APIRouter, scope: Any) -> None:
    @router.delete(ENDPOINT, status_code=status.HTTP_204_NO_CONTENT)
    async def delete_endpoint(
        endpoint_id: uuid.UUID, container: ContainerDep, scope: EndpointScope = scope
    ) -> Response:
        await container.webhook_endpoints.delete(scope=scope, endpoint_id=endpoint_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)


def _add_delivery_routes(router: APIRouter, scope: Any) -> None:
    @router.get(ENDPOINT + "/deliveries")
    async def list_deliveries(
        *,
        endpoint_id: uuid.UUID,
        container: ContainerDep,
        scope: EndpointScope = scope,
        page: PageDep,
    ) -> Page[DeliveryView]:
        found = await container.webhook_endpoints.deliveries(
            scope=scope, endpoint_id=endpoint_id, page=page
        )
        return Page[DeliveryView].model_validate(found, from_attributes=True)

    @router.post(
        ENDPOINT + "/deliveries/{delivery_id}/redeliver", status_code=status.HTTP_202_ACCEPTED
    )
    async def redeliver(
        endpoint_id: uuid.UUID,
        delivery_id: uuid.UUID,
        container: ContainerDep,
        scope: EndpointScope = scope,
    ) -> DeliveryView:
        return await container.webhook_endpoints.redeliver(
            scope=scope, endpoint_id=endpoint_id, delivery_id=delivery_id
        )


def _render_created(created: CreatedEndpoint) -> dict[str, Any]:
    return created.model_dump(mode="json")


router = _router("/v1/webhook-endpoints", tenant_scope, EndpointCreate)
admin_router = _router("/v1/admin/webhook-endpoints", platform_scope, AdminEndpointCreate)
