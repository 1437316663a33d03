"""Bodies of self-service registration (SPEC §8)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from tenantry.transports.rest.schemas.common import Email, Name, Password, TenantName


class RegistrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_name: TenantName
    email: Email
    name: Name
    password: Password
    plan: Annotated[str, Field(min_length=1, max_length=50)]


class RegistrationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: Literal["pending", "completed", "failed"]
    tenant_name: str
    plan: str
    tenant_id: uuid.UUID | None
    failure_reason: str | None
    created_at: datetime
