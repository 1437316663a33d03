"""Bodies of the user and tenant routes (SPEC §6)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from tenantry.domain.names import DisplayName, TenantName


class MembershipRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    tenant_id: uuid.UUID
    tenant_name: str
    tenant_kind: str
    tenant_status: str
    role: str
    plan: str


class MeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str
    email_verified: bool
    default_tenant_id: uuid.UUID | None
    created_at: datetime
    memberships: list[MembershipRead]


class MeUpdate(BaseModel):
    name: DisplayName | None = None
    default_tenant_id: uuid.UUID | None = None


class TenantCreate(BaseModel):
    name: TenantName


class TenantSummary(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    status: str
    plan: str
    role: str
