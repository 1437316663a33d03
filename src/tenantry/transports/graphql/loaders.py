"""Per-request DataLoaders over the domain reads that nested fields repeat: each batch is one
service call (one read) instead of a read per parent object."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from tenantry.bootstrap import Container
from tenantry.domain.accounts.environments import EnvironmentView
from tenantry.domain.accounts.members import MembersKey, MemberView
from tenantry.domain.accounts.roles import TenantActor

EnvironmentsKey = tuple[TenantActor, uuid.UUID, int]  # actor, project, limit


def members(container: Container) -> DataLoader[MembersKey, list[MemberView]]:
    return DataLoader(container.members.first_of_each)


def environments(container: Container) -> DataLoader[EnvironmentsKey, list[EnvironmentView]]:
    async def load_all(
        keys: list[EnvironmentsKey],
    ) -> Sequence[list[EnvironmentView] | BaseException]:
        return await container.environments.first_of_projects(wanted=keys)

    return DataLoader(load_all)
