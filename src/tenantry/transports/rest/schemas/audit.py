"""The audit log's entries (SPEC §9 `GET /v1/audit-log`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    action: str = Field(description="`<resource>.<verb>`, e.g. `membership.updated`")
    actor_id: uuid.UUID | None = Field(description="null: anonymous or the system")
    tenant_id: uuid.UUID | None = Field(description="null: the user pool, not a tenant")
    target_type: str | None
    target_id: str | None
    ip: str | None = Field(description="the client, behind trusted proxies; null: no request")
    user_agent: str | None
    request_id: str | None = Field(description="the request's `X-Request-ID`")
    data: dict[str, Any]
    created_at: datetime
