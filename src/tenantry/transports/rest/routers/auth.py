"""The user pool (SPEC §4): thin handlers over the identity flows."""

from __future__ import annotations

from fastapi import Response, status

from tenantry.bootstrap import Container
from tenantry.domain.identity.toolkit import TokenPair
from tenantry.transports.rest.deps import ClientDep, ContainerDep, PrincipalDep
from tenantry.transports.rest.devices import remember_device
from tenantry.transports.rest.openapi import problems
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.common import Accepted
from tenantry.transports.rest.schemas.identity import (
    ChangePasswordRequest,
    ConfirmRequest,
    EmailRequest,
    ForgotPasswordRequest,
    LoginRequest,
    RefreshRequest,
    ResetPasswordRequest,
    SignUpRequest,
    TokenResponse,
)

router = PrefixedRouter(prefix="/v1/auth", tags=["auth"])
CONFIRMATION_REQUIRED = Accepted(status="confirmation_required")


def _tokens(pair: TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token
    )


def _signed_in(pair: TokenPair, response: Response, container: Container) -> TokenResponse:
    """The token response of a sign-in, with the device cookie for the client's next one."""
    remember_device(response, container.settings, pair)
    return _tokens(pair)


@router.post("/signup", status_code=status.HTTP_202_ACCEPTED, responses=problems(429, 503))
async def sign_up(body: SignUpRequest, container: ContainerDep, client: ClientDep) -> Accepted:
    await container.signup.sign_up(
        email=body.email, password=body.password, name=body.name, client=client
    )
    return CONFIRMATION_REQUIRED


@router.post("/email-code", status_code=status.HTTP_202_ACCEPTED, responses=problems(429))
async def email_code(body: EmailRequest, container: ContainerDep, client: ClientDep) -> Accepted:
    await container.signup.request_email_code(email=body.email, client=client)
    return Accepted(status="code_sent")


@router.post("/confirm", responses=problems(429, 503))
async def confirm(
    body: ConfirmRequest, container: ContainerDep, client: ClientDep, response: Response
) -> TokenResponse:
    pair = await container.signup.confirm(
        email=body.email, code=body.code, password=body.password, client=client
    )
    return _signed_in(pair, response, container)


@router.post("/login", responses=problems(401, 403, 429, 503))
async def login(
    body: LoginRequest, container: ContainerDep, client: ClientDep, response: Response
) -> TokenResponse:
    pair = await container.login.login(email=body.email, password=body.password, client=client)
    return _signed_in(pair, response, container)


@router.post("/refresh", responses=problems(401))
async def refresh(body: RefreshRequest, container: ContainerDep) -> TokenResponse:
    return _tokens(await container.login.refresh(refresh_token=body.refresh_token))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshRequest, container: ContainerDep) -> Response:
    await container.login.logout(refresh_token=body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/password/forgot", status_code=status.HTTP_202_ACCEPTED, responses=problems(429))
async def forgot_password(
    body: ForgotPasswordRequest, container: ContainerDep, client: ClientDep
) -> Accepted:
    await container.recovery.forgot_password(email=body.email, client=client)
    return Accepted(status="code_sent")


@router.post(
    "/password/reset", status_code=status.HTTP_204_NO_CONTENT, responses=problems(429, 503)
)
async def reset_password(
    body: ResetPasswordRequest, container: ContainerDep, client: ClientDep
) -> Response:
    await container.recovery.reset_password(
        email=body.email, code=body.code, password=body.password, client=client
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/password/change", status_code=status.HTTP_204_NO_CONTENT, responses=problems(403, 429)
)
async def change_password(
    body: ChangePasswordRequest, container: ContainerDep, principal: PrincipalDep
) -> Response:
    await container.recovery.change_password(
        principal=principal, current_password=body.current_password, password=body.password
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
