"""A tenant's people in the web UI (SPEC §6, §7): members with their roles (change, remove,
leave) and invitations (send to several addresses, copy the link, resend, revoke). Every post
runs the domain services the REST routers call, so the role rules and error codes are the
API's; a refusal shows the domain's message on the page."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Response

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


async def people_form(tenant_id: uuid.UUID, visit: FormVisit) -> TenantForm:
    """The forms of the members page; a refusal shows the page again."""
    acting = await visit.acting_in(tenant_id)
    return TenantForm(acting, members_path(tenant_id), partial(people_page, acting), {})


async def member_form(tenant_id: uuid.UUID, user_id: uuid.UUID, visit: FormVisit) -> TenantForm:
    """The forms about one member, every id of the path read before the actor is checked."""
    return (await people_form(tenant_id, visit)).about(user_id=user_id)


async def one_invitation_form(
    tenant_id: uuid.UUID, invitation_id: uuid.UUID, visit: FormVisit
) -> TenantForm:
    """The forms about one invitation, its id read before the actor is checked."""
    return (await people_form(tenant_id, visit)).about(invitation_id=invitation_id)


PeopleForm = Annotated[TenantForm, Depends(people_form)]
MemberForm = Annotated[TenantForm, Depends(member_form)]
InvitationForm = Annotated[TenantForm, Depends(one_invitation_form)]


@router.get("/members")
async def members(tenant_id: uuid.UUID, visit: PageVisit) -> Response:
    return await people_page(await visit.acting_in(tenant_id))


@router.post("/members/{user_id}/role")
async def set_role(form: MemberForm) -> Response:
    """Change a member's role (as `PATCH /v1/members/{user_id}`)."""
    role = field(form.acting.form, "role", limit=16)
    chosen = role if role in ROLE_RANK else None
    changed = form.container.members.change_role
    return await form.change(changed, "role_changed", problem="Choose a role.", role=chosen)


@router.post("/members/{user_id}/remove")
async def remove(user_id: uuid.UUID, form: MemberForm) -> Response:
    """Evict a member, or leave when it is the visitor (as `DELETE /v1/members/{user_id}`)."""
    removed = form.container.members.remove
    if user_id == form.acting.actor.user_id:
        return await form.change(removed, "left_tenant", done="/app")
    return await form.change(removed, "member_removed")


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
async def invite(form: PeopleForm) -> Response:
    """Invite each address given (as `POST /v1/invitations`, one transaction each), then show
    the accept links: the token exists only in this response."""
    wanted = invitation_form(form.acting.form)
    if isinstance(wanted, str):
        return await form.again(status=422, error=wanted)
    issued, refused = await invite_all(form.container, form.acting.actor, *wanted)
    waits = [item.retry_after for item in refused if item.retry_after is not None]
    status = 200 if issued else 429 if waits else 422
    response = await form.again(status=status, issued=issued, refused=refused)
    if status == 429:
        response.headers["Retry-After"] = str(max(waits))
    return response


@router.post("/invitations/{invitation_id}/resend")
async def resend(invitation_id: uuid.UUID, form: InvitationForm) -> Response:
    """Mail the invitation again under a new link (as `POST /v1/invitations/{id}/resend`)."""
    try:
        view = await form.container.invitations.resend(
            actor=form.acting.actor, invitation_id=invitation_id
        )
    except DomainError as error:
        return await show_refusal(form.again, error)
    return await form.again(issued=[view], refused=[])


@router.post("/invitations/{invitation_id}/revoke")
async def revoke(form: InvitationForm) -> Response:
    """Withdraw an invitation (as `DELETE /v1/invitations/{id}`)."""
    return await form.change(form.container.invitations.revoke, "invitation_revoked")
