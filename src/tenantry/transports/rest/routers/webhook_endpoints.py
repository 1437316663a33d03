"""Webhook endpoints (SPEC §9): `/v1/webhook-endpoints` for a tenant's admins and the same
routes under `/v1/admin/webhook-endpoints` for platform admins, over every tenant."""

# No `from __future__ import annotations`: the routes are built in a function and FastAPI
# must see their dependency annotations as objects, not names to look up in this module.

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.webhooks.endpoints import EndpointScope
from tenantry.transports.rest.deps import ContainerDep, PageDep, PlatformAdminDep, TenantDep
from tenantry.transports.rest.idempotency import CreateOnceDep
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.common import Page
from tenantry.transports.rest.schemas.webhooks import (
    AdminEndpointCreate,
    DeliveryRead,
    EndpointCreate,
    EndpointCreated,
    EndpointRead,
)

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
    ScopeDep = Annotated[EndpointScope, Depends(scope_of)]  # noqa: N806 - a type alias

    @router.post("", status_code=status.HTTP_201_CREATED, response_model=EndpointCreated)
    async def create_endpoint(
        body: body_type,  # type: ignore[valid-type]  # one of the two create bodies
        container: ContainerDep,
        scope: ScopeDep,
        once: CreateOnceDep,
    ) -> Response:
        request: EndpointCreate = body
        await container.webhook_endpoints.check_url(request.url)

        async def work(session: AsyncSession) -> EndpointCreated:
            created = await container.webhook_endpoints.create(
                session,
                scope=scope,
                url=request.url,
                event_types=request.events,
                tenant_id=getattr(request, "tenant_id", None),
                now=container.clock.now(),
            )
            return EndpointCreated.model_validate(created, from_attributes=True)

        return await once.run(work, user_id=scope.actor_id, body=request)

    @router.get("")
    async def list_endpoints(
        container: ContainerDep, scope: ScopeDep, page: PageDep
    ) -> Page[EndpointRead]:
        async with container.db.read() as session:
            found = await container.webhook_endpoints.list(session, scope=scope, page=page)
        return Page[EndpointRead].model_validate(found, from_attributes=True)

    @router.get(ENDPOINT)
    async def read_endpoint(
        endpoint_id: uuid.UUID, container: ContainerDep, scope: ScopeDep
    ) -> EndpointRead:
        async with container.db.read() as session:
            endpoint = await container.webhook_endpoints.get(
                session, scope=scope, endpoint_id=endpoint_id
            )
        return EndpointRead.model_validate(endpoint)

    @router.delete(ENDPOINT, status_code=status.HTTP_204_NO_CONTENT)
    async def delete_endpoint(
        endpoint_id: uuid.UUID, container: ContainerDep, scope: ScopeDep
    ) -> Response:
        async with container.db.transaction() as session:
            await container.webhook_endpoints.delete(
                session, scope=scope, endpoint_id=endpoint_id, now=container.clock.now()
            )
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get(ENDPOINT + "/deliveries")
    async def list_deliveries(
        endpoint_id: uuid.UUID, container: ContainerDep, scope: ScopeDep, page: PageDep
    ) -> Page[DeliveryRead]:
        async with container.db.read() as session:
            found = await container.webhook_endpoints.deliveries(
                session, scope=scope, endpoint_id=endpoint_id, page=page
            )
        return Page[DeliveryRead].model_validate(found, from_attributes=True)

    @router.post(
        ENDPOINT + "/deliveries/{delivery_id}/redeliver", status_code=status.HTTP_202_ACCEPTED
    )
    async def redeliver(
        endpoint_id: uuid.UUID, delivery_id: uuid.UUID, container: ContainerDep, scope: ScopeDep
    ) -> DeliveryRead:
        async with container.db.transaction() as session:
            delivery = await container.webhook_endpoints.redeliver(
                session,
                scope=scope,
                endpoint_id=endpoint_id,
                delivery_id=delivery_id,
                now=container.clock.now(),
            )
        container.webhook_dispatcher.wake.set()
        return DeliveryRead.model_validate(delivery)

    return router


router = _router("/v1/webhook-endpoints", tenant_scope, EndpointCreate)
admin_router = _router("/v1/admin/webhook-endpoints", platform_scope, AdminEndpointCreate)
