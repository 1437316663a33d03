"""Request bodies of the platform-admin routes (SPEC §8); tenants and users are answered as the
domain's `TenantDetails`, `TenantListItem` and `UserListItem`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tenantry.domain.names import Name, TenantName
from tenantry.transports.rest.schemas.common import Email

PlanId = Annotated[str, Field(min_length=1, max_length=50)]
TenantStatus = Literal["active", "disabled", "provisioning"]
MetadataKey = Annotated[str, Field(min_length=1, max_length=100)]


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
