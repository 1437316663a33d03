"""Bodies of the user and tenant routes (SPEC §6)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

from tenantry.domain.names import DisplayName, TenantName


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
