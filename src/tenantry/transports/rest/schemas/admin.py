"""Bodies of the platform-admin routes (SPEC §8)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tenantry.transports.rest.schemas.common import Email, Name, TenantName

PlanId = Annotated[str, Field(min_length=1, max_length=50)]
TenantStatus = Literal["active", "disabled", "provisioning"]
MetadataKey = Annotated[str, Field(min_length=1, max_length=100)]


class AdminTenantItem(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: str
    plan: str
    status: str
    isolation: str
    members: int
    created_at: datetime


class AdminTenantCreate(BaseModel):
    name: TenantName
    plan: PlanId
    owner_email: Email
    owner_name: Name | None = None


class AdminTenantUpdate(BaseModel):
    """Only the fields sent change. In `metadata` and `features` a null removes the key (a
    removed feature override falls back to the plan's value)."""

    model_config = ConfigDict(extra="forbid")

    name: TenantName | None = None
    plan: PlanId | None = None
    metadata: Annotated[dict[MetadataKey, Any], Field(max_length=100)] | None = None
    features: Annotated[dict[MetadataKey, bool | None], Field(max_length=100)] | None = None


class TenantDisable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class AdminUserItem(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str
    email_verified: bool
    is_platform_admin: bool
    disabled_at: datetime | None
    memberships: int
    created_at: datetime
