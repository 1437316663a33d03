"""Bodies of the invitation routes (SPEC §7)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from tenantry.domain.accounts.invitations import DEFAULT_LIFETIME, MAX_LIFETIME, MIN_LIFETIME
from tenantry.transports.rest.schemas.common import Email
from tenantry.transports.rest.schemas.members import Role

ExpiresIn = Annotated[
    int,
    Field(
        ge=MIN_LIFETIME.total_seconds(),
        le=MAX_LIFETIME.total_seconds(),
        description="Seconds until the invitation expires.",
    ),
]
Token = Annotated[str, Field(min_length=1, max_length=512)]


class InvitationCreate(BaseModel):
    email: Email
    role: Role
    expires_in: ExpiresIn = int(DEFAULT_LIFETIME.total_seconds())


class InvitationResend(BaseModel):
    expires_in: ExpiresIn = int(DEFAULT_LIFETIME.total_seconds())


class InvitationTokenBody(BaseModel):
    token: Token


class InvitationAccepted(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    tenant_id: uuid.UUID
    role: str


class InvitationDeclined(BaseModel):
    status: Literal["declined"] = "declined"
