"""Per-request DataLoaders over the domain reads that nested fields repeat: each batch runs in
one read session instead of a session per parent object."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from tenantry.bootstrap import Container
from tenantry.domain.accounts.members import MemberView, list_members
from tenantry.domain.accounts.roles import TenantActor
from tenantry.domain.pagination import PageRequest
from tenantry.errors import DomainError
from tenantry.storage.models import Environment

K = TypeVar("K")
V = TypeVar("V")
MembersKey = tuple[uuid.UUID, int]  # tenant, limit
EnvironmentsKey = tuple[TenantActor, uuid.UUID, int]  # actor, project, limit


def _batched(
    container: Container, load: Callable[[AsyncSession, K], Awaitable[V]]
) -> DataLoader[K, V]:
    """A loader running `load` for each key of a batch in one read session; a domain error
    fails its own key only."""

    async def load_all(keys: list[K]) -> Sequence[V | BaseException]:
        results: list[V | BaseException] = []
        async with container.db.read() as session:
            for key in keys:
                try:
                    results.append(await load(session, key))
                except DomainError as error:
                    results.append(error)
        return results

    return DataLoader(load_all)


def members(container: Container) -> DataLoader[MembersKey, list[MemberView]]:
    async def load(session: AsyncSession, key: MembersKey) -> list[MemberView]:
        tenant_id, limit = key
        found = await list_members(session, tenant_id=tenant_id, page=PageRequest(limit=limit))
        return found.items

    return _batched(container, load)


def environments(container: Container) -> DataLoader[EnvironmentsKey, list[Environment]]:
    async def load_all(keys: list[EnvironmentsKey]) -> Sequence[list[Environment] | BaseException]:
        return await container.environments.first_of_projects(wanted=keys)

    return DataLoader(load_all)
