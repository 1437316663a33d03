"""A tenant's teams and their members (SPEC §6 `/v1/teams`)."""

from __future__ import annotations

import uuid

from fastapi import Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.accounts import teams
from tenantry.transports.rest.deps import ContainerDep, PageDep, TenantDep
from tenantry.transports.rest.idempotency import CreateOnceDep
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.common import Page
from tenantry.transports.rest.schemas.teams import TeamCreate, TeamMemberRead, TeamRead, TeamUpdate

router = PrefixedRouter(prefix="/v1/teams", tags=["teams"])


@router.get("")
async def read_teams(container: ContainerDep, tenant: TenantDep, page: PageDep) -> Page[TeamRead]:
    async with container.db.read() as session:
        found = await teams.list_teams(session, actor=tenant.actor, page=page)
    return Page[TeamRead].model_validate(found, from_attributes=True)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TeamRead)
async def create_team(
    body: TeamCreate, container: ContainerDep, tenant: TenantDep, once: CreateOnceDep
) -> Response:
    async def work(session: AsyncSession) -> TeamRead:
        team = await teams.create_team(
            session,
            actor=tenant.actor,
            plans=container.plans,
            name=body.name,
            now=container.clock.now(),
        )
        return TeamRead.model_validate(team)

    return await once.run(work, user_id=tenant.principal.user_id, body=body)


@router.get("/{team_id}")
async def read_team(team_id: uuid.UUID, container: ContainerDep, tenant: TenantDep) -> TeamRead:
    async with container.db.read() as session:
        team = await teams.get_team_or_raise(session, actor=tenant.actor, team_id=team_id)
    return TeamRead.model_validate(team)


@router.patch("/{team_id}")
async def update_team(
    team_id: uuid.UUID, body: TeamUpdate, container: ContainerDep, tenant: TenantDep
) -> TeamRead:
    async with container.db.transaction() as session:
        team = await teams.rename_team(
            session,
            actor=tenant.actor,
            team_id=team_id,
            name=body.name,
            now=container.clock.now(),
        )
    return TeamRead.model_validate(team)


@router.delete("/{team_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_team(team_id: uuid.UUID, container: ContainerDep, tenant: TenantDep) -> Response:
    async with container.db.transaction() as session:
        await teams.delete_team(
            session, actor=tenant.actor, team_id=team_id, now=container.clock.now()
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{team_id}/members")
async def read_team_members(
    team_id: uuid.UUID, container: ContainerDep, tenant: TenantDep, page: PageDep
) -> Page[TeamMemberRead]:
    async with container.db.read() as session:
        found = await teams.list_team_members(
            session, actor=tenant.actor, team_id=team_id, page=page
        )
    return Page[TeamMemberRead].model_validate(found, from_attributes=True)


@router.put("/{team_id}/members/{user_id}")
async def add_team_member(
    team_id: uuid.UUID, user_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> TeamMemberRead:
    async with container.db.transaction() as session:
        member = await teams.add_team_member(
            session,
            actor=tenant.actor,
            team_id=team_id,
            user_id=user_id,
            now=container.clock.now(),
        )
    return TeamMemberRead.model_validate(member)


@router.delete("/{team_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_team_member(
    team_id: uuid.UUID, user_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> Response:
    async with container.db.transaction() as session:
        await teams.remove_team_member(
            session,
            actor=tenant.actor,
            team_id=team_id,
            user_id=user_id,
            now=container.clock.now(),
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
