"""The invitation landing page (SPEC §7, §11), the link the invitation mail carries: a preview
for anyone holding the token; the invited account accepts or declines; another account is told
so and may sign out; a visitor not signed in continues through the entry flow and comes back
here. Accepting and declining run the services `POST /v1/invitations/accept|decline` run."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Request, Response

from tenantry.bootstrap import Container
from tenantry.domain.identity.toolkit import email_key
from tenantry.errors import DomainError, NotFound
from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.web.app_pages import app_page
from tenantry.transports.web.entry import entry_page, failure
from tenantry.transports.web.render import WebRoute, redirect
from tenantry.transports.web.visitors import PostDep, Visitor, field, resolve_visitor

router = PrefixedRouter(prefix="/invite", route_class=WebRoute, include_in_schema=False)
TOKEN_LIMIT = 512
TITLE = "Invitation"


def landing_path(token: str) -> str:
    return f"/invite?token={quote(token, safe='')}"


async def landing(
    request: Request,
    container: Container,
    token: str,
    visitor: Visitor | None,
    *,
    status: int = 200,
    error: str | None = None,
) -> Response:
    """The page for `token` as this visitor sees it; `error` from a refused accept/decline."""
    try:
        if not token or len(token) > TOKEN_LIMIT:
            raise NotFound("No such invitation.", code="invitation_not_found")
        preview = await container.invitations.preview(token=token)
    except NotFound:
        invalid: dict[str, Any] = {"title": TITLE, "invalid": True}
        if visitor is None:
            return entry_page(request, container, "invite.html", status=404, **invalid)
        return await app_page(request, container, visitor, "invite.html", status=404, **invalid)
    settled = preview.status != "pending"
    context: dict[str, Any] = {
        "title": TITLE,
        "preview": preview,
        "token": token,
        "landing": landing_path(token),
        "error": error,
    }
    status = 410 if settled and status == 200 else status
    if visitor is None:
        return entry_page(
            request, container, "invite.html", status=status, email=preview.email, **context
        )
    mine = email_key(visitor.identity.email) == email_key(preview.email)
    return await app_page(
        request, container, visitor, "invite.html", status=status, mine=mine, **context
    )


@router.get("")
async def invitation(request: Request, container: ContainerDep) -> Response:
    token = request.query_params.get("token", "")
    visitor = await resolve_visitor(request, container)
    return await landing(request, container, token, visitor)


@router.post("/accept")
async def accept(request: Request, container: ContainerDep, post: PostDep) -> Response:
    token = field(post.form, "token", limit=TOKEN_LIMIT + 1)
    try:
        joined = await container.invitations.accept(
            user_id=post.visitor.principal.user_id, token=token
        )
    except DomainError as error:
        status, message = failure(error)
        return await landing(request, container, token, post.visitor, status=status, error=message)
    return redirect(f"/app/t/{joined.tenant_id}?notice=invitation_accepted")


@router.post("/decline")
async def decline(request: Request, container: ContainerDep, post: PostDep) -> Response:
    token = field(post.form, "token", limit=TOKEN_LIMIT + 1)
    try:
        await container.invitations.decline(user_id=post.visitor.principal.user_id, token=token)
    except DomainError as error:
        status, message = failure(error)
        return await landing(request, container, token, post.visitor, status=status, error=message)
    return redirect(f"{landing_path(token)}&notice=invitation_declined")
