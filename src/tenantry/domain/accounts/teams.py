"""A tenant's teams and their members (SPEC §6): any member reads teams, admins change them and
manage who is in them. Every query is scoped by the actor's tenant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, overload

from sqlalchemy import Exists, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.accounts.capabilities import MANAGE_TEAMS
from tenantry.domain.accounts.members import MemberView, list_members
from tenantry.domain.accounts.roles import TenantActor, outranks_or_equals
from tenantry.domain.accounts.tenants import lock_tenant
from tenantry.domain.audit import record_actor_audit
from tenantry.domain.idempotency import KeyClaim, StoredResponse, answer_once
from tenantry.domain.pagination import Page, PageRequest, make_page, paginate
from tenantry.domain.plans.catalog import PlanCatalog
from tenantry.domain.readmodel import ReadModel
from tenantry.errors import Conflict, NotFound
from tenantry.storage.database import Database
from tenantry.storage.models import Membership, ProjectTeam, Team, TeamMember, User
from tenantry.storage.tables import TEAM_MEMBERS
from tenantry.storage.upsert import insert_on_conflict

if TYPE_CHECKING:
    from tenantry.domain.accounts.projects import ProjectView

_audit = partial(record_actor_audit, target_type="team")


class TeamView(ReadModel):
    id: uuid.UUID
    name: str
    member_count: int
    created_at: datetime


class TeamMemberView(ReadModel):
    user_id: uuid.UUID
    email: str
    name: str
    role: str
    added_at: datetime


_MEMBER_COUNT = (
    select(func.count()).select_from(TeamMember).where(TeamMember.team_id == Team.id)
).scalar_subquery()
_TEAM_VIEW = select(Team.id, Team.name, _MEMBER_COUNT, Team.created_at)
_MEMBER_VIEW = (
    select(TeamMember.user_id, User.email, User.name, Membership.role, TeamMember.created_at)
    .join(
        Membership,
        (Membership.tenant_id == TeamMember.tenant_id) & (Membership.user_id == TeamMember.user_id),
    )
    .join(User, User.id == TeamMember.user_id)
)


async def list_teams(
    session: AsyncSession,
    *,
    actor: TenantActor,
    page: PageRequest,
    linked_to: uuid.UUID | None = None,
    not_linked_to: uuid.UUID | None = None,
) -> Page[TeamView]:
    """The tenant's teams, oldest first; `linked_to` or `not_linked_to` a project keeps only
    the teams that are (or are not) linked to it."""
    teams = _TEAM_VIEW.where(Team.tenant_id == actor.tenant_id)
    if linked_to is not None:
        teams = teams.where(_linked_to(linked_to))
    if not_linked_to is not None:
        teams = teams.where(~_linked_to(not_linked_to))
    statement = paginate(
        teams,
        page,
        created_at=Team.created_at,
        row_id=Team.id,
    )
    views = [TeamView.of_row(row) for row in await session.execute(statement)]
    return make_page(views, page, key=lambda team: (team.created_at, team.id))


def _linked_to(project_id: uuid.UUID) -> Exists:
    return (
        select(ProjectTeam.team_id)
        .where(ProjectTeam.project_id == project_id, ProjectTeam.team_id == Team.id)
        .exists()
    )


async def team_row_or_raise(
    session: AsyncSession, *, tenant_id: uuid.UUID, team_id: uuid.UUID, lock: bool = False
) -> Team:
    """The team row; with `lock`, locked until the transaction ends, so it cannot be deleted
    under a change or a new member or project link."""
    statement = select(Team).where(Team.tenant_id == tenant_id, Team.id == team_id)
    team = await session.scalar(statement.with_for_update() if lock else statement)
    if team is None:
        raise _team_not_found()
    return team


@dataclass(frozen=True)
class TeamOverview:
    """A team's page: the team and the projects linked to it; for admins also its members and
    the tenant members who can be added (None for anyone else)."""

    team: TeamView
    linked_projects: Page[ProjectView]
    members: Page[TeamMemberView] | None
    candidates: Page[MemberView] | None


class Teams:
    """The teams service: each method is one unit of work."""

    def __init__(self, *, db: Database, clock: Clock, plans: PlanCatalog) -> None:
        self._db = db
        self._clock = clock
        self._plans = plans

    async def find(self, *, actor: TenantActor, page: PageRequest) -> Page[TeamView]:
        async with self._db.read() as session:
            return await list_teams(session, actor=actor, page=page)

    async def get(self, *, actor: TenantActor, team_id: uuid.UUID) -> TeamView:
        async with self._db.read() as session:
            return await _team_view_or_raise(session, actor, team_id)

    async def overview(
        self,
        *,
        actor: TenantActor,
        team_id: uuid.UUID,
        projects: PageRequest,
        members: PageRequest,
        candidates: PageRequest,
    ) -> TeamOverview:
        """The team with a page of each list, read together."""
        # Imported here: projects import this module, for the team links.
        from tenantry.domain.accounts.projects import list_projects

        async with self._db.read() as session:
            team = await _team_view_or_raise(session, actor, team_id)
            linked = await list_projects(
                session, actor=actor, page=projects, linked_to_team=team_id
            )
            if not outranks_or_equals(actor.role, "admin"):
                return TeamOverview(team, linked, members=None, candidates=None)
            return TeamOverview(
                team,
                linked,
                members=await _members_of(session, actor, team_id, members),
                candidates=await list_members(
                    session, tenant_id=actor.tenant_id, page=candidates, outside_team=team_id
                ),
            )

    @overload
    async def create(self, *, actor: TenantActor, name: str, key: None = None) -> TeamView: ...

    @overload
    async def create(
        self, *, actor: TenantActor, name: str, key: KeyClaim[TeamView]
    ) -> TeamView | StoredResponse: ...

    async def create(
        self, *, actor: TenantActor, name: str, key: KeyClaim[TeamView] | None = None
    ) -> TeamView | StoredResponse:
        """A new team, within the plan's `teams` limit; the name is unique in the tenant
        (Conflict `team_name_taken`). With an Idempotency-Key, a repeat gets the first answer
        back as a `StoredResponse`."""
        async with self._db.transaction() as session:
            now = self._clock.now()
            return await answer_once(
                session, key, partial(self._create, session, actor, name, now), now=now
            )

    async def _create(
        self, session: AsyncSession, actor: TenantActor, name: str, now: datetime
    ) -> TeamView:
        actor.require(MANAGE_TEAMS)
        tenant = await lock_tenant(session, actor.tenant_id)
        await _refuse_taken_name(session, actor=actor, name=name)
        used = await session.scalar(
            select(func.count()).select_from(Team).where(Team.tenant_id == actor.tenant_id)
        )
        self._plans.of_tenant(tenant.plan).check_limit("teams", used=used or 0)
        team = Team(
            id=uuid.uuid4(), tenant_id=actor.tenant_id, name=name, created_at=now, updated_at=now
        )
        session.add(team)
        await session.flush()
        await _audit(session, actor, "team.created", team.id, {"name": name}, now=now)
        return TeamView(id=team.id, name=team.name, member_count=0, created_at=team.created_at)

    async def rename(self, *, actor: TenantActor, team_id: uuid.UUID, name: str | None) -> TeamView:
        actor.require(MANAGE_TEAMS)
        async with self._db.transaction() as session:
            await lock_tenant(session, actor.tenant_id)
            team = await team_row_or_raise(
                session, tenant_id=actor.tenant_id, team_id=team_id, lock=True
            )
            if name is not None and name != team.name:
                await _refuse_taken_name(session, actor=actor, name=name)
                now = self._clock.now()
                team.name, team.updated_at = name, now
                await session.flush()
                await _audit(session, actor, "team.updated", team.id, {"name": name}, now=now)
            return await _team_view_or_raise(session, actor, team_id)

    async def delete(self, *, actor: TenantActor, team_id: uuid.UUID) -> None:
        """Delete the team; its memberships and project links go with it (foreign key
        cascade)."""
        actor.require(MANAGE_TEAMS)
        async with self._db.transaction() as session:
            connection = await session.connection()
            deleted = await connection.execute(
                delete(Team).where(Team.tenant_id == actor.tenant_id, Team.id == team_id)
            )
            if deleted.rowcount == 0:
                raise _team_not_found()
            await _audit(session, actor, "team.deleted", team_id, {}, now=self._clock.now())

    async def members(
        self, *, actor: TenantActor, team_id: uuid.UUID, page: PageRequest
    ) -> Page[TeamMemberView]:
        """Who is in the team (admins)."""
        async with self._db.read() as session:
            return await _members_of(session, actor, team_id, page)

    async def add_member(
        self, *, actor: TenantActor, team_id: uuid.UUID, user_id: uuid.UUID
    ) -> TeamMemberView:
        """Put a tenant member in the team; adding someone already in it changes nothing."""
        actor.require(MANAGE_TEAMS)
        async with self._db.transaction() as session:
            await team_row_or_raise(session, tenant_id=actor.tenant_id, team_id=team_id, lock=True)
            # Share-locked so an eviction cannot slip in between this check and the insert.
            member = await session.scalar(
                select(Membership.id)
                .where(Membership.tenant_id == actor.tenant_id, Membership.user_id == user_id)
                .with_for_update(read=True)
            )
            if member is None:
                raise NotFound("That user is not a member of this tenant.", code="member_not_found")
            now = self._clock.now()
            added = await session.execute(
                insert_on_conflict(session, TEAM_MEMBERS)
                .values(team_id=team_id, user_id=user_id, tenant_id=actor.tenant_id, created_at=now)
                .on_conflict_do_nothing()
            )
            if added.rowcount:  # type: ignore[attr-defined]
                data = {"user_id": str(user_id)}
                await _audit(session, actor, "team.member_added", team_id, data, now=now)
            row = (
                await session.execute(
                    _MEMBER_VIEW.where(TeamMember.team_id == team_id, TeamMember.user_id == user_id)
                )
            ).one()
            return TeamMemberView.of_row(row)

    async def remove_member(
        self, *, actor: TenantActor, team_id: uuid.UUID, user_id: uuid.UUID
    ) -> None:
        """Take a member out of the team; they stay a member of the tenant."""
        actor.require(MANAGE_TEAMS)
        async with self._db.transaction() as session:
            await team_row_or_raise(session, tenant_id=actor.tenant_id, team_id=team_id)
            connection = await session.connection()
            removed = await connection.execute(
                delete(TeamMember).where(
                    TeamMember.tenant_id == actor.tenant_id,
                    TeamMember.team_id == team_id,
                    TeamMember.user_id == user_id,
                )
            )
            if removed.rowcount == 0:
                raise NotFound("That user is not in this team.", code="team_member_not_found")
            data = {"user_id": str(user_id)}
            await _audit(
                session, actor, "team.member_removed", team_id, data, now=self._clock.now()
            )


async def _team_view_or_raise(
    session: AsyncSession, actor: TenantActor, team_id: uuid.UUID
) -> TeamView:
    row = (
        await session.execute(
            _TEAM_VIEW.where(Team.tenant_id == actor.tenant_id, Team.id == team_id)
        )
    ).one_or_none()
    if row is None:
        raise _team_not_found()
    return TeamView.of_row(row)


async def _members_of(
    session: AsyncSession, actor: TenantActor, team_id: uuid.UUID, page: PageRequest
) -> Page[TeamMemberView]:
    actor.require(MANAGE_TEAMS)
    await team_row_or_raise(session, tenant_id=actor.tenant_id, team_id=team_id)
    statement = paginate(
        _MEMBER_VIEW.where(TeamMember.tenant_id == actor.tenant_id, TeamMember.team_id == team_id),
        page,
        created_at=TeamMember.created_at,
        row_id=TeamMember.user_id,
    )
    views = [TeamMemberView.of_row(row) for row in await session.execute(statement)]
    return make_page(views, page, key=lambda member: (member.added_at, member.user_id))


async def _refuse_taken_name(session: AsyncSession, *, actor: TenantActor, name: str) -> None:
    """Decided under the tenant lock, so two creates or renames cannot both take a name."""
    taken = await session.scalar(
        select(Team.id).where(Team.tenant_id == actor.tenant_id, Team.name == name)
    )
    if taken is not None:
        raise Conflict(f"This tenant already has a team named {name!r}.", code="team_name_taken")


def _team_not_found() -> NotFound:
    return NotFound("No such team in this tenant.", code="team_not_found")
