"""Request dependencies: the container, the caller, the tenant context and the client info.
Every tenant-scoped route takes `TenantDep`, the one place the tenant check happens. All are
`async def`: FastAPI runs plain functions on its thread pool, a hop per request."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request

from tenantry.bootstrap import Container
from tenantry.domain.accounts.roles import TenantActor
from tenantry.domain.identity.access import Principal, TenantAccess
from tenantry.domain.identity.sessions import ClientInfo
from tenantry.domain.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest
from tenantry.errors import MalformedRequest, PermissionDenied, Unauthenticated
from tenantry.transports.rest.client_ip import client_ip
from tenantry.transports.rest.devices import presented_device

TENANT_HEADER = "x-tenant-id"
# The form the API writes ids in. `uuid.UUID` also takes braces, `urn:uuid:`, and hyphens
# anywhere or nowhere: one tenant would have endless spellings, none of them malformed.
CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def get_container(request: Request) -> Container:
    return container_of(request)


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_client(request: Request, container: ContainerDep) -> ClientInfo:
    peer = request.client.host if request.client else None
    forwarded = request.headers.getlist("x-forwarded-for")
    return ClientInfo(
        ip=client_ip(peer, forwarded, container.settings.trusted_proxies),
        user_agent=request.headers.get("user-agent"),
        device=presented_device(request, container.settings),
    )


ClientDep = Annotated[ClientInfo, Depends(get_client)]


async def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthenticated("An access token is required.", code="missing_token")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or " " in token.strip():
        raise Unauthenticated("Use `Authorization: Bearer <token>`.", code="invalid_token")
    return token.strip()


async def tenant_header(request: Request) -> uuid.UUID:
    """Exactly one `X-Tenant-ID` holding a UUID; anything else is the same 400."""
    values = request.headers.getlist(TENANT_HEADER)
    if len(values) == 1 and CANONICAL_UUID.fullmatch(value := values[0].strip()):
        return uuid.UUID(value)
    raise MalformedRequest(
        "Send exactly one X-Tenant-ID header with a tenant id.", code="tenant_header_required"
    )


async def current_principal(request: Request) -> Principal:
    # The container straight from the request, not as a sub-dependency: FastAPI solves every
    # dependency node per request, cached or not (docs/benchmarks.md, "Measured in code").
    authenticator = container_of(request).authenticator
    principal, _ = await authenticator.authenticate(await bearer_token(request))
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


async def platform_admin(principal: PrincipalDep, container: ContainerDep) -> Principal:
    """The caller, if a platform admin now (read per request, see `is_platform_admin`)."""
    if await container.admin_users.is_platform_admin(user_id=principal.user_id):
        return principal
    raise PermissionDenied("Only platform admins may do this.", code="platform_admin_required")


PlatformAdminDep = Annotated[Principal, Depends(platform_admin)]


@dataclass(frozen=True)
class TenantContext:
    principal: Principal
    access: TenantAccess

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.access.tenant_id

    @property
    def actor(self) -> TenantActor:
        return TenantActor(self.principal.user_id, self.access.tenant_id, self.access.role)


async def tenant_context(request: Request) -> TenantContext:
    token = await bearer_token(request)
    tenant_id = await tenant_header(request)
    # The container as in `current_principal`: not a dependency node of its own.
    authenticator = container_of(request).authenticator
    principal, access = await authenticator.authenticate(token, tenant_id=tenant_id)
    assert access is not None
    return TenantContext(principal, access)


TenantDep = Annotated[TenantContext, Depends(tenant_context)]


async def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor)


PageDep = Annotated[PageRequest, Depends(page_request)]
