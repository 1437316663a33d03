"""Inbound provider webhooks (SPEC §8): authenticated by the provider's signature over the raw
request, never by a token."""

from __future__ import annotations

import uuid

from fastapi import Request
from pydantic import BaseModel

from tenantry.domain.provider.hubspot import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Delivery,
    signed_uri,
)
from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.rest.openapi import problems
from tenantry.transports.rest.routing import PrefixedRouter

router = PrefixedRouter(prefix="/v1/webhooks", tags=["webhooks"])


class PaymentProcessed(BaseModel):
    user_id: uuid.UUID
    tenant_id: uuid.UUID


@router.post("/hubspot", responses=problems(400, 401, 408, 409, 413, 422))
async def hubspot_payment(request: Request, container: ContainerDep) -> PaymentProcessed:
    """A paid plan: the payer's account and tenant; a repeated `eventId` gets the same answer."""
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    delivery = Delivery(
        method=request.method,
        uri=signed_uri(
            container.settings.public_url,
            raw_path.decode("latin-1"),
            request.scope.get("query_string", b"").decode("latin-1"),
        ),
        body=await request.body(),
        signature=request.headers.get(SIGNATURE_HEADER),
        timestamp=request.headers.get(TIMESTAMP_HEADER),
    )
    answer = await container.hubspot.receive(delivery)
    return PaymentProcessed(user_id=answer.user_id, tenant_id=answer.tenant_id)
