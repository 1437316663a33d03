"""The request body of self-service registration (SPEC §8); a registration is answered as
the domain's `RegistrationView`."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from tenantry.domain.names import Name, TenantName
from tenantry.transports.rest.schemas.common import Email, Password


class RegistrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant_name: TenantName
    email: Email
    name: Name
    password: Password
    plan: Annotated[str, Field(min_length=1, max_length=50)]
