"""Long lists in the web UI page past their first 100 items (SPEC §11): members, invitations,
projects, teams, a team's members, the members that can be added to a team, a team's projects,
a project's linked and linkable teams, and the admin console's tenant members. Following the
"Next" links shows every item exactly once; "First" goes back; a cursor that is not ours shows
the first page. The rows are arranged in storage: how they are created is tested elsewhere,
and a plan's limits would stop the API long before 100. Both databases."""

from __future__ import annotations

import hashlib
import html
import re
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import delete, update

from tenantry.bootstrap import Container
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.models import (
    Invitation,
    Membership,
    Project,
    ProjectTeam,
    Team,
    TeamMember,
    User,
)
from tests.integration.test_web_sessions import web_sign_in
from tests.support.api import Account

pytestmark = pytest.mark.integration
MANY = 105  # more than one page of 100
NEXT = re.compile(r'<a class="button secondary" href="([^"]+)" rel="next">Next ([^<]+)</a>')
FIRST = re.compile(r'<a class="button secondary" href="([^"]+)">First ([^<]+)</a>')


async def arrange_many(container: Container, ann: Account) -> dict[str, list[str]]:
    """MANY members, invitations, projects and teams in Ann's personal tenant, the first team
    holding every member and linked to every project; returns the names to look for."""
    tenant_id = uuid.UUID(ann.tenant_id)
    start = container.clock.now()
    names: dict[str, list[str]] = {key: [] for key in ("members", "invites", "projects", "teams")}
    async with container.db.transaction() as session:
        team_ids = []
        for i in range(MANY):
            at = start + timedelta(seconds=i + 1)
            email = f"member-{i:03}@paging.example"
            user = User(
                id=uuid.uuid4(),
                email=email,
                email_key=email,
                name=f"Member {i:03}",
                password_hash=None,
                email_verified=True,
                tokens_valid_after=at,
                created_at=at,
                updated_at=at,
            )
            session.add(user)
            await session.flush()
            session.add(
                Membership(
                    id=uuid.uuid4(),
                    tenant_id=tenant_id,
                    user_id=user.id,
                    role="viewer",
                    created_at=at,
                    updated_at=at,
                )
            )
            invited = f"invitee-{i:03}@paging.example"
            session.add(
                Invitation(
                    id=uuid.uuid4(),
                    tenant_id=tenant_id,
                    email=invited,
                    email_key=invited,
                    role="viewer",
                    token_hash=hashlib.sha256(invited.encode()).hexdigest(),
                    inviter_id=uuid.UUID(ann.user_id),
                    expires_at=at + timedelta(days=7),
                    created_at=at,
                    updated_at=at,
                )
            )
            project_id, team_id = uuid.uuid4(), uuid.uuid4()
            team_ids.append(team_id)
            session.add(
                Project(
                    id=project_id,
                    tenant_id=tenant_id,
                    name=f"Project {i:03}",
                    created_at=at,
                    updated_at=at,
                )
            )
            session.add(
                Team(
                    id=team_id,
                    tenant_id=tenant_id,
                    name=f"Team {i:03}",
                    created_at=at,
                    updated_at=at,
                )
            )
            await session.flush()
            session.add(
                TeamMember(team_id=team_ids[0], user_id=user.id, tenant_id=tenant_id, created_at=at)
            )
            session.add(
                ProjectTeam(
                    project_id=project_id, team_id=team_ids[0], tenant_id=tenant_id, created_at=at
                )
            )
            names["members"].append(email)
            names["invites"].append(invited)
            names["projects"].append(f"Project {i:03}")
            names["teams"].append(f"Team {i:03}")
        await bump_access_epoch(session)
    return names


async def walk(client: httpx.AsyncClient, url: str, noun: str) -> list[str]:
    """Every page of one list from `url` on, following its "Next {noun}" link."""
    pages = []
    while True:
        response = await client.get(url)
        assert response.status_code == 200, response.text
        pages.append(response.text)
        links = {label: html.unescape(href) for href, label in NEXT.findall(response.text)}
        if noun not in links:
            return pages
        url = links[noun]


def shown(pages: list[str], wanted: list[str], *, within: str = "") -> list[str]:
    """The wanted names in the order the pages first show them, page after page: a name on two
    pages appears twice. `within` names the element (by its id) to look in."""
    pattern = re.compile("|".join(re.escape(name) for name in wanted))
    found: list[str] = []
    for page in pages:
        if within:
            part = re.search(rf'id="{within}".*?</(select|table|ul)>', page, re.S)
            page = part.group(0) if part else ""
        found += dict.fromkeys(pattern.findall(page))
    return found


async def test_every_list_pages_past_its_first_hundred(
    container: Container, ann: Account, client: httpx.AsyncClient
) -> None:
    names = await arrange_many(container, ann)
    await web_sign_in(client, ann)
    base = f"/app/t/{ann.tenant_id}"

    pages = await walk(client, f"{base}/members", "members")
    assert len(pages) == 2
    assert shown(pages, names["members"]) == names["members"]
    pages = await walk(client, f"{base}/members", "invitations")
    assert len(pages) == 2
    assert shown(pages, names["invites"]) == names["invites"]
    # The two lists page apart: the invitations' next page keeps the members' position.
    second_members = (await walk(client, f"{base}/members", "members"))[1]
    [(href, _)] = [
        (h, label) for h, label in NEXT.findall(second_members) if label == "invitations"
    ]
    assert "members=" in html.unescape(href)
    assert FIRST.search(second_members) is not None

    pages = await walk(client, f"{base}/projects", "projects")
    assert shown(pages, names["projects"]) == names["projects"]
    pages = await walk(client, f"{base}/teams", "teams")
    assert shown(pages, names["teams"]) == names["teams"]

    full_team = re.search(r'href="([^"]+/teams/[^"]+)">Team 000<', pages[0])
    assert full_team is not None
    team_url = full_team.group(1)
    assert shown(await walk(client, team_url, "team members"), names["members"]) == names["members"]
    assert shown(await walk(client, team_url, "projects"), names["projects"]) == names["projects"]

    project_url = re.search(
        r'href="([^"]+/projects/[^"]+)">Project 000<', (await client.get(f"{base}/projects")).text
    )
    assert project_url is not None
    linkable = await walk(client, project_url.group(1), "teams to link")
    assert shown(linkable, names["teams"], within="link-team") == names["teams"][1:]


async def test_the_members_outside_a_team_page_too(
    container: Container, ann: Account, client: httpx.AsyncClient
) -> None:
    names = await arrange_many(container, ann)
    async with container.db.transaction() as session:  # empty the full team
        await session.execute(delete(TeamMember))
    await web_sign_in(client, ann)
    teams = (await client.get(f"/app/t/{ann.tenant_id}/teams")).text
    team = re.search(r'href="([^"]+/teams/[^"]+)">Team 000<', teams)
    assert team is not None
    pages = await walk(client, team.group(1), "tenant members to add")
    assert len(pages) == 2
    assert shown(pages, names["members"], within="team-candidate") == names["members"]


async def test_a_foreign_cursor_shows_the_first_page(
    container: Container, ann: Account, client: httpx.AsyncClient
) -> None:
    names = await arrange_many(container, ann)
    await web_sign_in(client, ann)
    response = await client.get(f"/app/t/{ann.tenant_id}/members?members=not-a-cursor")
    assert response.status_code == 200
    assert shown([response.text], names["members"]) == names["members"][:99]  # Ann first


async def test_the_admin_console_pages_a_tenants_members(
    container: Container, ann: Account, client: httpx.AsyncClient
) -> None:
    names = await arrange_many(container, ann)
    async with container.db.transaction() as session:
        await session.execute(
            update(User).where(User.id == uuid.UUID(ann.user_id)).values(is_platform_admin=True)
        )
    await web_sign_in(client, ann)
    pages = await walk(client, f"/admin/tenants/{ann.tenant_id}", "members")
    assert len(pages) == 2
    assert shown(pages, names["members"]) == names["members"]
    back = FIRST.search(pages[1])
    assert back is not None and html.unescape(back.group(1)) == f"/admin/tenants/{ann.tenant_id}"
