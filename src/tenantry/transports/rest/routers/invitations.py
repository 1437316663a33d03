"""Invitations (SPEC §7): the tenant's admins issue and manage them; the invitee previews,
accepts or declines with the mailed token."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import Query, Response, status
from fastapi.responses import JSONResponse

from tenantry.domain.accounts.invitations import InvitationIssued, InvitationPreview, InvitationView
from tenantry.domain.idempotency import KeyClaim
from tenantry.transports.rest.deps import ContainerDep, PageDep, PrincipalDep, TenantDep
from tenantry.transports.rest.idempotency import CreateOnceDep, answered, json_body
from tenantry.transports.rest.openapi import problems
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.common import Page
from tenantry.transports.rest.schemas.invitations import (
    InvitationAccepted,
    InvitationCreate,
    InvitationDeclined,
    InvitationResend,
    InvitationTokenBody,
    Token,
)

router = PrefixedRouter(prefix="/v1/invitations", tags=["invitations"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=InvitationIssued,
    responses=problems(429),
)
async def create_invitation(
    body: InvitationCreate, container: ContainerDep, tenant: TenantDep, once: CreateOnceDep
) -> JSONResponse:
    key: KeyClaim[InvitationIssued] | None = once.key_claim(
        body, user_id=tenant.principal.user_id, answer=json_body
    )
    outcome = await container.invitations.create(
        actor=tenant.actor,
        email=body.email,
        role=body.role,
        lifetime=timedelta(seconds=body.expires_in),
        key=key,
    )
    return answered(outcome, json_body)


@router.get("")
async def read_invitations(
    container: ContainerDep, tenant: TenantDep, page: PageDep
) -> Page[InvitationView]:
    found = await container.invitations.listing(actor=tenant.actor, page=page)
    return Page[InvitationView](items=found.items, next_cursor=found.next_cursor)


@router.get("/preview", responses=problems(404))
async def preview_invitation(
    token: Annotated[Token, Query()], container: ContainerDep
) -> InvitationPreview:
    return await container.invitations.preview(token=token)


@router.post("/accept", responses=problems(403, 404, 409, 410))
async def accept_invitation(
    body: InvitationTokenBody, container: ContainerDep, principal: PrincipalDep
) -> InvitationAccepted:
    joined = await container.invitations.accept(user_id=principal.user_id, token=body.token)
    return InvitationAccepted.model_validate(joined)


@router.post("/decline", responses=problems(403, 404, 409, 410))
async def decline_invitation(
    body: InvitationTokenBody, container: ContainerDep, principal: PrincipalDep
) -> InvitationDeclined:
    await container.invitations.decline(user_id=principal.user_id, token=body.token)
    return InvitationDeclined()


@router.delete("/{invitation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_invitation(
    invitation_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> Response:
    await container.invitations.revoke(actor=tenant.actor, invitation_id=invitation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{invitation_id}/resend", status_code=status.HTTP_202_ACCEPTED, responses=problems(429)
)
async def resend_invitation(
    invitation_id: uuid.UUID,
    container: ContainerDep,
    tenant: TenantDep,
    body: InvitationResend | None = None,
) -> InvitationIssued:
    lifetime = (body or InvitationResend()).expires_in
    issued = await container.invitations.resend(
        actor=tenant.actor, invitation_id=invitation_id, lifetime=timedelta(seconds=lifetime)
    )
    return issued
