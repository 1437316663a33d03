"""A tenant's teams and their members (SPEC §6 `/v1/teams`)."""

from __future__ import annotations

import uuid

from fastapi import Response, status

from tenantry.domain.accounts.teams import TeamMemberView, TeamView
from tenantry.domain.idempotency import KeyClaim
from tenantry.transports.rest.deps import ContainerDep, PageDep, TenantDep
from tenantry.transports.rest.idempotency import CreateOnceDep, answered, json_body
from tenantry.transports.rest.routing import PrefixedRouter
from tenantry.transports.rest.schemas.common import Page
from tenantry.transports.rest.schemas.teams import TeamCreate, TeamUpdate

router = PrefixedRouter(prefix="/v1/teams", tags=["teams"])


@router.get("")
async def read_teams(container: ContainerDep, tenant: TenantDep, page: PageDep) -> Page[TeamView]:
    found = await container.teams.find(actor=tenant.actor, page=page)
    return Page[TeamView](items=found.items, next_cursor=found.next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TeamView)
async def create_team(
    body: TeamCreate, container: ContainerDep, tenant: TenantDep, once: CreateOnceDep
) -> Response:
    key: KeyClaim[TeamView] | None = once.key_claim(
        body, user_id=tenant.principal.user_id, answer=json_body
    )
    return answered(
        await container.teams.create(actor=tenant.actor, name=body.name, key=key), json_body
    )


@router.get("/{team_id}")
async def read_team(team_id: uuid.UUID, container: ContainerDep, tenant: TenantDep) -> TeamView:
    return await container.teams.get(actor=tenant.actor, team_id=team_id)


@router.patch("/{team_id}")
async def update_team(
    team_id: uuid.UUID, body: TeamUpdate, container: ContainerDep, tenant: TenantDep
) -> TeamView:
    team = await container.teams.rename(actor=tenant.actor, team_id=team_id, name=body.name)
    return team


@router.delete("/{team_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_team(team_id: uuid.UUID, container: ContainerDep, tenant: TenantDep) -> Response:
    await container.teams.delete(actor=tenant.actor, team_id=team_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{team_id}/members")
async def read_team_members(
    team_id: uuid.UUID, container: ContainerDep, tenant: TenantDep, page: PageDep
) -> Page[TeamMemberView]:
    found = await container.teams.members(actor=tenant.actor, team_id=team_id, page=page)
    return Page[TeamMemberView](items=found.items, next_cursor=found.next_cursor)


@router.put("/{team_id}/members/{user_id}")
async def add_team_member(
    team_id: uuid.UUID, user_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> TeamMemberView:
    member = await container.teams.add_member(actor=tenant.actor, team_id=team_id, user_id=user_id)
    return member


@router.delete("/{team_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_team_member(
    team_id: uuid.UUID, user_id: uuid.UUID, container: ContainerDep, tenant: TenantDep
) -> Response:
    await container.teams.remove_member(actor=tenant.actor, team_id=team_id, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
