"""A visitor acting in one tenant: the request, the services, the signed-in visitor and their
role there (checked on this request), bundled so that tenant pages and the forms posted from
them name only their own ids."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from starlette.datastructures import FormData

from tenantry.bootstrap import Container
from tenantry.domain.accounts.capabilities import capabilities_of
from tenantry.domain.accounts.roles import TenantActor
from tenantry.domain.accounts.tenants import TenantView
from tenantry.domain.pagination import Page
from tenantry.transports.rest.deps import ContainerDep
from tenantry.transports.web.app_pages import app_page, tenant_actor
from tenantry.transports.web.paging import page_links, requested_page
from tenantry.transports.web.visitors import PostDep, Visitor, VisitorDep


@dataclass(frozen=True)
class Visit:
    """A signed-in request, not yet placed in a tenant; `form` holds the fields of a checked
    form post (none on a page view)."""

    request: Request
    container: Container
    visitor: Visitor
    form: FormData

    async def acting_in(self, tenant_id: uuid.UUID) -> Acting:
        """Raises `PageInterrupt` (the 403 page) when the visitor may not act in the tenant.
        Called from the handler, so the path's ids are validated first, as before."""
        actor = await tenant_actor(self.request, self.container, self.visitor, tenant_id)
        return Acting(self.request, self.container, self.visitor, self.form, actor)


@dataclass(frozen=True)
class Acting(Visit):
    actor: TenantActor

    async def tenant_page(
        self,
        template: str,
        *,
        title: str,
        status: int = 200,
        tenant: TenantView | None = None,
        **context: Any,
    ) -> Response:
        """A page of the tenant, titled `title · tenant name`, told which actions the actor's
        role opens (`capabilities`)."""
        shown = tenant or await self.container.tenant_views.get(self.actor.tenant_id)
        return await app_page(
            self.request,
            self.container,
            self.visitor,
            template,
            status=status,
            current_tenant_id=self.actor.tenant_id,
            title=f"{title} · {shown.name}",
            tenant=shown,
            capabilities=capabilities_of(self.actor),
            **context,
        )

    async def listing_page(
        self,
        template: str,
        find: Callable[..., Awaitable[Page[Any]]],
        *,
        title: str,
        collection: str,
        status: int = 200,
        **context: Any,
    ) -> Response:
        """A page of the tenant's `collection` (projects, teams), `?after=` a page at a time:
        the template reads them as `items`, their page links as `item_pages`."""
        found = await find(actor=self.actor, page=requested_page(self.request, "after"))
        path = f"/app/t/{self.actor.tenant_id}/{collection}"
        links = page_links(self.request, path, "after", found)
        return await self.tenant_page(
            template, status=status, title=title, items=found.items, item_pages=links, **context
        )


async def viewing(request: Request, container: ContainerDep, visitor: VisitorDep) -> Visit:
    return Visit(request, container, visitor, FormData())


async def posting(request: Request, container: ContainerDep, post: PostDep) -> Visit:
    return Visit(request, container, post.visitor, post.form)


PageVisit = Annotated[Visit, Depends(viewing)]
FormVisit = Annotated[Visit, Depends(posting)]
