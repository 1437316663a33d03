"""Request and response bodies of the identity routes (SPEC §4)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from tenantry.domain.names import Name
from tenantry.transports.rest.schemas.common import Code, Email, EmailLike, Password


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


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105
    expires_in: int
    refresh_token: str
