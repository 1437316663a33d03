"""The per-request context of the GraphQL gateway: the container, the request, and the caller
as REST authenticates them (`Authorization`, `X-Tenant-ID`). Checks are memoized for one request
only; every request, and every field after a mutation, checks again."""

from __future__ import annotations

import uuid

import strawberry
from fastapi import Request
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from tenantry.bootstrap import Container
from tenantry.domain.accounts.environments import EnvironmentView
from tenantry.domain.accounts.members import MemberView
from tenantry.domain.accounts.roles import TenantActor
from tenantry.domain.identity.access import Principal, TenantAccess
from tenantry.errors import DomainError
from tenantry.transports.graphql import loaders
from tenantry.transports.graphql.inputs import page_request
from tenantry.transports.rest.deps import ContainerDep, bearer_token, tenant_header

Authenticated = tuple[Principal, TenantAccess | None]


class GraphQLContext(BaseContext):
    def __init__(self, container: Container, request: Request) -> None:
        super().__init__()
        self.container = container
        self.http_request = request
        self._access: DataLoader[uuid.UUID | None, Authenticated] = DataLoader(self._authenticate)
        self._members = loaders.members(container)
        self._environments = loaders.environments(container)

    async def principal(self) -> Principal:
        """The caller, from the bearer token (no tenant needed)."""
        principal, _ = await self._access.load(None)
        return principal

    async def actor(self, tenant_id: uuid.UUID | None = None) -> TenantActor:
        """The caller acting in `tenant_id`, or else in the tenant `X-Tenant-ID` names, with
        the same errors REST gives (token first, then the header, then the membership)."""
        if tenant_id is None:
            await bearer_token(self.http_request)
            tenant_id = await tenant_header(self.http_request)
        principal, access = await self._access.load(tenant_id)
        assert access is not None
        return TenantActor(principal.user_id, access.tenant_id, access.role)

    async def members_of(self, tenant_id: uuid.UUID, limit: int) -> list[MemberView]:
        """The first `limit` members of a tenant the caller is a member of."""
        await self.actor(tenant_id)
        return await self._members.load((tenant_id, page_request(limit).limit))

    async def environments_of(
        self, tenant_id: uuid.UUID, project_id: uuid.UUID, limit: int
    ) -> list[EnvironmentView]:
        """The first `limit` environments of a project of a tenant the caller is in."""
        actor = await self.actor(tenant_id)
        return await self._environments.load((actor, project_id, page_request(limit).limit))

    def forget(self) -> None:
        """After a mutation: later fields of the request check and read afresh."""
        for loader in (self._access, self._members, self._environments):
            loader.clear_all()

    async def _authenticate(
        self, tenant_ids: list[uuid.UUID | None]
    ) -> list[Authenticated | BaseException]:
        results: list[Authenticated | BaseException] = []
        for tenant_id in tenant_ids:
            try:
                token = await bearer_token(self.http_request)
                authenticator = self.container.authenticator
                results.append(await authenticator.authenticate(token, tenant_id=tenant_id))
            except DomainError as error:
                results.append(error)
        return results


Info = strawberry.Info[GraphQLContext, None]


async def get_context(request: Request, container: ContainerDep) -> GraphQLContext:
    """strawberry's `context_getter`: a fresh context for every request."""
    return GraphQLContext(container, request)
