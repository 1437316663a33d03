"""A tenant's people in the web UI (SPEC §6, §7): members with their roles (change, remove,
leave) and invitations (send to several addresses, copy the link, resend, revoke). Every post
runs the domain services the REST routers call, so the role rules and error codes are the
API's; a refusal shows the domain's message on the page."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import Request, Response

from tenantry.bootstrap import Container
from tenantry.domain.accounts.invitations import InvitationView
from tenantry.domain.accounts.roles import ROLE_RANK, TenantActor, outranks_or_equals
from tenantry.errors import DomainError, Throttled
from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.web.app_pages import app_page, tenant_actor
from tenantry.transports.web.entry import EMAIL_LIMIT, failure, normalized_email
from tenantry.transports.web.forms import PageAgain, redirect_after, show_refusal
from tenantry.transports.web.paging import page_links, requested_page
from tenantry.transports.web.render import WebRoute
from tenantry.transports.web.visitors import Post, PostDep, Visitor, VisitorDep, field

router = PrefixedRouter(prefix="/app/t/{tenant_id}", route_class=WebRoute, include_in_schema=False)
MAX_INVITEES = 20
ROLES = sorted(ROLE_RANK, key=ROLE_RANK.__getitem__, reverse=True)
SEPARATORS = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class Refused:
    email: str
    message: str
    retry_after: int | None = None  # seconds, when the refusal was a mail allowance


async def people_page(
    request: Request,
    container: Container,
    visitor: Visitor,
    actor: TenantActor,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    """The members list, and for admins the invitations, as of now."""
    tenant = await container.tenant_views.get(actor.tenant_id)
    admin = outranks_or_equals(actor.role, "admin")
    members = await container.members.listing(
        tenant_id=actor.tenant_id, page=requested_page(request, "members")
    )
    invitations = (
        await container.invitations.listing(
            actor=actor, page=requested_page(request, "invitations")
        )
        if admin
        else None
    )
    path = f"/app/t/{actor.tenant_id}/members"
    return await app_page(
        request,
        container,
        visitor,
        "members.html",
        status=status,
        current_tenant_id=actor.tenant_id,
        title=f"Members · {tenant.name}",
        tenant=tenant,
        actor=actor,
        admin=admin,
        roles=[r for r in ROLES if r != "owner" or actor.role == "owner"],
        members=members.items,
        member_pages=page_links(request, path, "members", members),
        invitations=invitations.items if invitations else [],
        invitation_pages=invitations and page_links(request, path, "invitations", invitations),
        **context,
    )


def _shown_again(
    request: Request, container: Container, post: Post, actor: TenantActor
) -> PageAgain:
    return partial(people_page, request, container, post.visitor, actor)


@router.get("/members")
async def members(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, visitor: VisitorDep
) -> Response:
    actor = await tenant_actor(request, container, visitor, tenant_id)
    return await people_page(request, container, visitor, actor)


@router.post("/members/{user_id}/role")
async def set_role(
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    post: PostDep,
) -> Response:
    """Change a member's role (as `PATCH /v1/members/{user_id}`)."""
    actor = await tenant_actor(request, container, post.visitor, tenant_id)
    role = field(post.form, "role", limit=16)
    if role not in ROLE_RANK:
        return await people_page(
            request, container, post.visitor, actor, status=422, error="Choose a role."
        )
    return await redirect_after(
        container.members.change_role(actor=actor, user_id=user_id, role=role),
        done=f"/app/t/{tenant_id}/members?notice=role_changed",
        refused=_shown_again(request, container, post, actor),
    )


@router.post("/members/{user_id}/remove")
async def remove(
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    post: PostDep,
) -> Response:
    """Evict a member, or leave when it is the visitor (as `DELETE /v1/members/{user_id}`)."""
    actor = await tenant_actor(request, container, post.visitor, tenant_id)
    left = user_id == actor.user_id
    done = (
        "/app?notice=left_tenant" if left else f"/app/t/{tenant_id}/members?notice=member_removed"
    )
    return await redirect_after(
        container.members.remove(actor=actor, user_id=user_id),
        done=done,
        refused=_shown_again(request, container, post, actor),
    )


def invitation_form(form: Any) -> tuple[list[str], str] | str:
    """The addresses (deduplicated, in order) and the role of an invite form, or the message
    saying what is wrong with it."""
    raw = field(form, "emails", limit=MAX_INVITEES * (EMAIL_LIMIT + 2))
    addresses = list(dict.fromkeys(part[:EMAIL_LIMIT] for part in SEPARATORS.split(raw) if part))
    role = field(form, "role", limit=16)
    if not addresses or len(addresses) > MAX_INVITEES or role not in ROLE_RANK:
        return f"Enter 1 to {MAX_INVITEES} email addresses and choose a role."
    return addresses, role


async def invite_all(
    container: Container, actor: TenantActor, addresses: list[str], role: str
) -> tuple[list[InvitationView], list[Refused]]:
    """Invite each address as `POST /v1/invitations` does, one transaction each; the ones
    refused come back with the reason."""
    issued: list[InvitationView] = []
    refused: list[Refused] = []
    for raw in addresses:
        email = normalized_email(raw)
        if email is None:
            refused.append(Refused(raw, "Not a valid email address."))
            continue
        try:
            issued.append(await container.invitations.create(actor=actor, email=email, role=role))
        except DomainError as error:
            retry_after = error.retry_after if isinstance(error, Throttled) else None
            refused.append(Refused(email, failure(error)[1], retry_after))
    return issued, refused


@router.post("/invitations")
async def invite(
    tenant_id: uuid.UUID, request: Request, container: ContainerDep, post: PostDep
) -> Response:
    """Invite each address given (as `POST /v1/invitations`, one transaction each), then show
    the accept links: the token exists only in this response."""
    actor = await tenant_actor(request, container, post.visitor, tenant_id)
    wanted = invitation_form(post.form)
    if isinstance(wanted, str):
        return await people_page(request, container, post.visitor, actor, status=422, error=wanted)
    issued, refused = await invite_all(container, actor, *wanted)
    waits = [item.retry_after for item in refused if item.retry_after is not None]
    status = 200 if issued else 429 if waits else 422
    response = await people_page(
        request, container, post.visitor, actor, status=status, issued=issued, refused=refused
    )
    if status == 429:
        response.headers["Retry-After"] = str(max(waits))
    return response


@router.post("/invitations/{invitation_id}/resend")
async def resend(
    tenant_id: uuid.UUID,
    invitation_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    post: PostDep,
) -> Response:
    """Mail the invitation again under a new link (as `POST /v1/invitations/{id}/resend`)."""
    actor = await tenant_actor(request, container, post.visitor, tenant_id)
    try:
        view = await container.invitations.resend(actor=actor, invitation_id=invitation_id)
    except DomainError as error:
        return await show_refusal(_shown_again(request, container, post, actor), error)
    return await people_page(request, container, post.visitor, actor, issued=[view], refused=[])


@router.post("/invitations/{invitation_id}/revoke")
async def revoke(
    tenant_id: uuid.UUID,
    invitation_id: uuid.UUID,
    request: Request,
    container: ContainerDep,
    post: PostDep,
) -> Response:
    """Withdraw an invitation (as `DELETE /v1/invitations/{id}`)."""
    actor = await tenant_actor(request, container, post.visitor, tenant_id)
    return await redirect_after(
        container.invitations.revoke(actor=actor, invitation_id=invitation_id),
        done=f"/app/t/{tenant_id}/members?notice=invitation_revoked",
        refused=_shown_again(request, container, post, actor),
    )
