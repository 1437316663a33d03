"""Request and response bodies of the REST API, separate from the ORM models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

T = TypeVar("T")


def _email(value: str) -> str:
    try:
        return validate_email(
            value, check_deliverability=False, globally_deliverable=False
        ).normalized
    except EmailNotValidError as error:
        raise ValueError(str(error)) from error


Email = Annotated[str, Field(max_length=320), AfterValidator(_email)]
# Login-like routes take any string, so a malformed address fails like an unknown one.
EmailLike = Annotated[str, Field(min_length=1, max_length=320)]
# The policy check rejects over 1024 characters with `weak_password`; this only bounds input.
Password = Annotated[str, Field(min_length=1, max_length=4096)]
Code = Annotated[str, Field(min_length=1, max_length=32)]
Name = Annotated[str, Field(max_length=200)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


class SignUpRequest(BaseModel):
    email: Email
    password: Password
    name: Name | None = None


class EmailRequest(BaseModel):
    email: Email


class ForgotPasswordRequest(BaseModel):
    email: EmailLike


class ConfirmRequest(BaseModel):
    email: EmailLike
    code: Code
    password: Password | None = None


class LoginRequest(BaseModel):
    email: EmailLike
    password: Password


class RefreshRequest(BaseModel):
    refresh_token: Annotated[str, Field(min_length=1, max_length=512)]


class ResetPasswordRequest(BaseModel):
    email: EmailLike
    code: Code
    password: Password


class ChangePasswordRequest(BaseModel):
    current_password: Password
    password: Password


class Accepted(BaseModel):
    status: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105
    expires_in: int
    refresh_token: str


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
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    default_tenant_id: uuid.UUID | None = None


class TenantCreate(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=200)]


class TenantSummary(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    status: str
    plan: str
    role: str


class ProjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    created_at: datetime


class EnvironmentRead(BaseModel):
    id: uuid.UUID
    name: str
    slug: str
    client_key: str
    snippet: str
    created_at: datetime
