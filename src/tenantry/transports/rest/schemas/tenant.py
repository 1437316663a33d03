"""Bodies of the tenant-of-the-request routes and the plan catalog (SPEC §6)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from tenantry.domain.names import CONTROL_FREE, TenantName

ShortText = Annotated[str, Field(min_length=1, max_length=200, pattern=CONTROL_FREE)]


class TenantProfile(BaseModel):
    """Onboarding and KYC details. In a PATCH, a field set to null is removed."""

    model_config = ConfigDict(extra="forbid")

    company_name: ShortText | None = None
    legal_name: ShortText | None = None
    website: HttpUrl | None = None
    employee_count: Annotated[int, Field(ge=1, le=10_000_000)] | None = None
    industry: ShortText | None = None
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    address: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    tax_id: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    phone: Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{4,30}$")] | None = None
    use_case: Annotated[str, Field(min_length=1, max_length=1000)] | None = None


class TenantUpdate(BaseModel):
    name: TenantName | None = None
    profile: TenantProfile | None = None
