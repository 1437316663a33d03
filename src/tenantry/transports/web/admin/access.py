"""Who may use the admin console: platform admins, the flag re-read from the database on every
request, as the REST `platform_admin` dependency does; anyone else gets the forbidden page."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response

from tenantry.bootstrap import Container
from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.web.app_pages import app_page
from tenantry.transports.web.destinations import back_here
from tenantry.transports.web.visitors import (
    Post,
    SignInRequired,
    Visitor,
    checked_post,
    resolve_visitor,
)


class NotPlatformAdmin(Exception):
    """A signed-in visitor who is not (or no longer) a platform admin."""

    def __init__(self, visitor: Visitor) -> None:
        self.visitor = visitor


async def platform_admin(request: Request, container: ContainerDep) -> Visitor:
    """The visitor, if a platform admin now (the flag re-read on this request)."""
    visitor = await resolve_visitor(request, container)
    if visitor is None:
        raise SignInRequired(back_here(request))
    if await container.admin_users.is_platform_admin(user_id=visitor.principal.user_id):
        return visitor
    raise NotPlatformAdmin(visitor)


AdminDep = Annotated[Visitor, Depends(platform_admin)]


async def admin_post(request: Request, container: ContainerDep, visitor: AdminDep) -> Post:
    """An admin's form post, with its session-bound CSRF token checked."""
    return await checked_post(request, container, visitor)


AdminPostDep = Annotated[Post, Depends(admin_post)]


async def forbidden(request: Request, error: Exception) -> Response:
    """The page for `NotPlatformAdmin`."""
    assert isinstance(error, NotPlatformAdmin)
    container: Container = request.app.state.container
    return await app_page(
        request,
        container,
        error.visitor,
        "admin_forbidden.html",
        status=403,
        title="Platform admins only",
    )
