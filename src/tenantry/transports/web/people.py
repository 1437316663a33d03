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

from fastapi import Response

from tenantry.bootstrap import Container
from tenantry.domain.accounts.capabilities import capabilities_of
from tenantry.domain.accounts.invitations import InvitationView
from tenantry.domain.accounts.roles import ROLE_RANK, TenantActor
from tenantry.errors import DomainError, Throttled
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.web.acting import Acting, FormVisit, PageVisit
from tenantry.transports.web.entry import EMAIL_LIMIT, failure, normalized_email
from tenantry.transports.web.forms import TenantForm, show_refusal
from tenantry.transports.web.paging import page_links, requested_page
from tenantry.transports.web.render import WebRoute
from tenantry.transports.web.visitors import field

router = PrefixedRouter(prefix="/app/t/{tenant_id}", route_class=WebRoute, include_in_schema=False)
MAX_INVITEES = 20
SEPARATORS = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class Refused:
    email: str
    message: str
    retry_after: int | None = None  # seconds, when the refusal was a mail allowance


def members_path(tenant_id: uuid.UUID) -> str:
    return f"/app/t/{tenant_id}/members"


async def people_page(acting: Acting, *, status: int = 200, **context: Any) -> Response:
    """The members list, and for admins the invitations, as of now."""
    request, actor = acting.request, acting.actor
    members = await acting.container.members.listing(
        tenant_id=actor.tenant_id, page=requested_page(request, "members")
    )
    invitations = (
        await acting.container.invitations.listing(
            actor=actor, page=requested_page(request, "invitations")
        )
        if capabilities_of(actor).invite
        else None
    )
    path = members_path(actor.tenant_id)
    return await acting.tenant_page(
        "members.html",
        status=status,
        title="Members",
        actor=actor,
        members=members.items,
        member_pages=page_links(request, path, "members", members),
        invitations=invitations.items if invitations else [],
        invitation_pages=invitations and page_links(request, path, "invitations", invitations),
        **context,
    )


async def _people_form(visit: FormVisit, tenant_id: uuid.UUID) -> TenantForm:
    acting = await visit.acting_in(tenant_id)
    return TenantForm(acting, members_path(tenant_id), partial(people_page, acting), {})


@router.get("/members")
async def members(tenant_id: uuid.UUID, visit: PageVisit) -> Response:
    return await people_page(await visit.acting_in(tenant_id))


@router.post("/members/{user_id}/role")
async def set_role(tenant_id: uuid.UUID, user_id: uuid.UUID, visit: FormVisit) -> Response:
    """Change a member's role (as `PATCH /v1/members/{user_id}`)."""
    form = await _people_form(visit, tenant_id)
    role = field(visit.form, "role", limit=16)
    changed = partial(visit.container.members.change_role, user_id=user_id)
    chosen = role if role in ROLE_RANK else None
    return await form.change(changed, "role_changed", problem="Choose a role.", role=chosen)


@router.post("/members/{user_id}/remove")
async def remove(tenant_id: uuid.UUID, user_id: uuid.UUID, visit: FormVisit) -> Response:
    """Evict a member, or leave when it is the visitor (as `DELETE /v1/members/{user_id}`)."""
    form = await _people_form(visit, tenant_id)
    removed = visit.container.members.remove
    if user_id == form.acting.actor.user_id:
        return await form.change(removed, "left_tenant", done="/app", user_id=user_id)
    return await form.change(removed, "member_removed", user_id=user_id)


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
async def invite(tenant_id: uuid.UUID, visit: FormVisit) -> Response:
    """Invite each address given (as `POST /v1/invitations`, one transaction each), then show
    the accept links: the token exists only in this response."""
    acting = await visit.acting_in(tenant_id)
    wanted = invitation_form(visit.form)
    if isinstance(wanted, str):
        return await people_page(acting, status=422, error=wanted)
    issued, refused = await invite_all(visit.container, acting.actor, *wanted)
    waits = [item.retry_after for item in refused if item.retry_after is not None]
    status = 200 if issued else 429 if waits else 422
    response = await people_page(acting, status=status, issued=issued, refused=refused)
    if status == 429:
        response.headers["Retry-After"] = str(max(waits))
    return response


@router.post("/invitations/{invitation_id}/resend")
async def resend(tenant_id: uuid.UUID, invitation_id: uuid.UUID, visit: FormVisit) -> Response:
    """Mail the invitation again under a new link (as `POST /v1/invitations/{id}/resend`)."""
    acting = await visit.acting_in(tenant_id)
    again = partial(people_page, acting)
    try:
        view = await visit.container.invitations.resend(
            actor=acting.actor, invitation_id=invitation_id
        )
    except DomainError as error:
        return await show_refusal(again, error)
    return await again(issued=[view], refused=[])


@router.post("/invitations/{invitation_id}/revoke")
async def revoke(tenant_id: uuid.UUID, invitation_id: uuid.UUID, visit: FormVisit) -> Response:
    """Withdraw an invitation (as `DELETE /v1/invitations/{id}`)."""
    form = await _people_form(visit, tenant_id)
    revoked = visit.container.invitations.revoke
    return await form.change(revoked, "invitation_revoked", invitation_id=invitation_id)
