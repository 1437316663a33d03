"""Bodies of the webhook endpoint routes (SPEC §9)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from tenantry.domain.webhooks.targets import MAX_URL_LENGTH

EventType = Annotated[str, Field(min_length=1, max_length=64)]


class EndpointCreate(BaseModel):
    url: Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH)]
    events: Annotated[list[EventType], Field(min_length=1, max_length=100)]


class AdminEndpointCreate(EndpointCreate):
    # None: the endpoint receives every tenant's events.
    tenant_id: uuid.UUID | None = None


class EndpointRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tenant_id: uuid.UUID | None
    url: str
    events: list[str]
    status: str
    failing_since: datetime | None
    created_at: datetime


class EndpointCreated(EndpointRead):
    secret: str


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    response_excerpt: str | None
    error: str | None


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    tenant_id: uuid.UUID | None
    status: str
    attempt_count: int
    next_attempt_at: datetime | None
    created_at: datetime
    settled_at: datetime | None
    attempts: list[AttemptRead]
