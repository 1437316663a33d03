"""Request bodies of the webhook endpoint routes (SPEC §9); endpoints and deliveries are
answered as the domain's `EndpointView`, `CreatedEndpoint` and `DeliveryView`."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, Field

from tenantry.domain.webhooks.targets import MAX_URL_LENGTH

EventType = Annotated[str, Field(min_length=1, max_length=64)]


class EndpointCreate(BaseModel):
    url: Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH)]
    events: Annotated[list[EventType], Field(min_length=1, max_length=100)]


class AdminEndpointCreate(EndpointCreate):
    # None: the endpoint receives every tenant's events.
    tenant_id: uuid.UUID | None = None
