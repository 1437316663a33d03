"""`/v1/teams` and team members (SPEC §6): viewers read teams, admins write them and manage
their members; teams and members of another tenant are 404."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tenantry.bootstrap import Container
from tenantry.storage.models import TeamMember
from tests.support.api import Account, register
from tests.support.counts import count_rows
from tests.support.mailbox import Mailbox
from tests.support.routes import (
    Route,
    all_pages,
    assert_guarded,
    assert_problem,
    create,
    make_org,
)
from tests.support.tenancy import add_member

pytestmark = pytest.mark.integration

TEAM = "/v1/teams/{team}"
MEMBER = "/v1/teams/{team}/members/{user}"
ROUTES = [
    Route("GET", "/v1/teams", "viewer"),
    Route("POST", "/v1/teams", "admin", {"name": "Another"}),
    Route("GET", TEAM, "viewer"),
    Route("PATCH", TEAM, "admin", {"name": "Renamed"}),
    Route("DELETE", TEAM, "admin"),
    Route("GET", f"{TEAM}/members", "admin"),
    Route("PUT", MEMBER, "admin"),
    Route("DELETE", MEMBER, "admin"),
]


async def create_team(
    client: httpx.AsyncClient, headers: dict[str, str], name: str = "Core"
) -> dict[str, Any]:
    return await create(client, "/v1/teams", headers, name=name)


async def add_to_team(
    client: httpx.AsyncClient, headers: dict[str, str], team_id: str, user_id: str
) -> httpx.Response:
    return await client.put(f"/v1/teams/{team_id}/members/{user_id}", headers=headers)


@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_team_routes_check_token_tenant_and_role(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container, route: Route
) -> None:
    org = await make_org(client, mailbox, container)
    outsider = await register(client, mailbox, "outsider@example.com")
    team = await create_team(client, org.headers("owner"))
    await assert_guarded(
        client,
        route,
        org=org,
        outsider=outsider,
        team=team["id"],
        user=org.members["viewer"].user_id,
    )


@pytest.mark.catalogue(24)
@pytest.mark.parametrize("route", [r for r in ROUTES if "{team}" in r.path], ids=str)
async def test_another_tenants_team_is_404(
    client: httpx.AsyncClient, ann: Account, bob: Account, route: Route
) -> None:
    bobs_team = await create_team(client, bob.headers())
    for team in (bobs_team["id"], uuid.uuid4()):
        response = await client.request(
            route.method,
            route.path.format(team=team, user=ann.user_id),
            headers=ann.headers(),
            json=route.body,
        )
        assert_problem(response, 404, "team_not_found")
    assert (await client.get(f"/v1/teams/{bobs_team['id']}", headers=bob.headers())).json() == (
        bobs_team
    )


async def test_team_lifecycle(client: httpx.AsyncClient, ann: Account) -> None:
    team = await create_team(client, ann.headers(), "  Core  ")
    assert set(team) == {"id", "name", "member_count", "created_at"}
    assert (team["name"], team["member_count"]) == ("Core", 0)
    path = f"/v1/teams/{team['id']}"
    assert (await client.get(path, headers=ann.headers())).json() == team

    renamed = await client.patch(path, headers=ann.headers(), json={"name": "Platform"})
    assert renamed.status_code == 200
    assert renamed.json() == {**team, "name": "Platform"}
    unchanged = await client.patch(path, headers=ann.headers(), json={})
    assert unchanged.json() == renamed.json()
    listed = (await client.get("/v1/teams", headers=ann.headers())).json()
    assert listed == {"items": [renamed.json()], "next_cursor": None}

    assert (await client.delete(path, headers=ann.headers())).status_code == 204
    assert_problem(await client.get(path, headers=ann.headers()), 404, "team_not_found")
    assert_problem(await client.delete(path, headers=ann.headers()), 404, "team_not_found")


async def test_team_names_are_unique_per_tenant(
    client: httpx.AsyncClient, ann: Account, bob: Account
) -> None:
    core = await create_team(client, ann.headers(), "Core")
    other = await create_team(client, ann.headers(), "Other")
    await create_team(client, bob.headers(), "Core")

    duplicate = await client.post("/v1/teams", headers=ann.headers(), json={"name": "Core"})
    assert_problem(duplicate, 409, "team_name_taken")
    taken = await client.patch(
        f"/v1/teams/{other['id']}", headers=ann.headers(), json={"name": "Core"}
    )
    assert_problem(taken, 409, "team_name_taken")
    same = await client.patch(
        f"/v1/teams/{core['id']}", headers=ann.headers(), json={"name": "Core"}
    )
    assert same.status_code == 200


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "a\x00b", "tab\there", None, 7])
async def test_bad_team_names_are_422(
    client: httpx.AsyncClient, ann: Account, name: object
) -> None:
    created = await client.post("/v1/teams", headers=ann.headers(), json={"name": name})
    assert_problem(created, 422, "validation_error")
    if name is not None:
        team = await create_team(client, ann.headers())
        renamed = await client.patch(
            f"/v1/teams/{team['id']}", headers=ann.headers(), json={"name": name}
        )
        assert_problem(renamed, 422, "validation_error")


async def test_a_name_that_is_not_unicode_is_422(client: httpx.AsyncClient, ann: Account) -> None:
    response = await client.post(
        "/v1/teams",
        headers={**ann.headers(), "Content-Type": "application/json"},
        content=rb'{"name": "lone \ud800 surrogate"}',
    )
    assert_problem(response, 422, "validation_error")


async def test_the_plan_limits_teams_even_under_parallel_creates(
    client: httpx.AsyncClient, ann: Account
) -> None:
    responses = await asyncio.gather(
        *(
            client.post("/v1/teams", headers=ann.headers(), json={"name": f"Team {n}"})
            for n in range(5)
        )
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 201, 403, 403, 403]
    refused = next(response for response in responses if response.status_code == 403)
    assert_problem(refused, 403, "plan_limit")
    listed = (await client.get("/v1/teams", headers=ann.headers())).json()
    assert len(listed["items"]) == 2


async def test_team_members_are_added_once_listed_and_removed(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container
) -> None:
    org = await make_org(client, mailbox, container)
    admin = org.headers("admin")
    team = await create_team(client, admin)
    editor = org.members["editor"]

    added = await add_to_team(client, admin, team["id"], editor.user_id)
    assert added.status_code == 200
    assert added.json() == {
        "user_id": editor.user_id,
        "email": editor.email,
        "name": "Editor",
        "role": "editor",
        "added_at": added.json()["added_at"],
    }
    again = await add_to_team(client, admin, team["id"], editor.user_id)
    assert again.json() == added.json()

    members = f"/v1/teams/{team['id']}/members"
    assert (await client.get(members, headers=admin)).json() == {
        "items": [added.json()],
        "next_cursor": None,
    }
    read = await client.get(f"/v1/teams/{team['id']}", headers=org.headers("viewer"))
    assert read.json()["member_count"] == 1

    removed = await client.delete(f"{members}/{editor.user_id}", headers=admin)
    assert removed.status_code == 204
    assert (await client.get(members, headers=admin)).json()["items"] == []
    gone = await client.delete(f"{members}/{editor.user_id}", headers=admin)
    assert_problem(gone, 404, "team_member_not_found")


async def test_only_tenant_members_join_a_team(
    client: httpx.AsyncClient, ann: Account, bob: Account
) -> None:
    team = await create_team(client, ann.headers())
    for user_id in (bob.user_id, str(uuid.uuid4())):
        response = await add_to_team(client, ann.headers(), team["id"], user_id)
        assert_problem(response, 404, "member_not_found")
    removed = await client.delete(
        f"/v1/teams/{team['id']}/members/{bob.user_id}", headers=ann.headers()
    )
    assert_problem(removed, 404, "team_member_not_found")


async def test_deleting_a_team_removes_its_memberships(
    client: httpx.AsyncClient, container: Container, ann: Account
) -> None:
    team = await create_team(client, ann.headers())
    await add_to_team(client, ann.headers(), team["id"], ann.user_id)
    in_team = TeamMember.team_id == uuid.UUID(str(team["id"]))
    assert await count_rows(container.db, TeamMember, in_team) == 1
    assert (await client.delete(f"/v1/teams/{team['id']}", headers=ann.headers())).is_success
    assert await count_rows(container.db, TeamMember, in_team) == 0


async def test_teams_and_team_members_page_with_cursors(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container, ann: Account
) -> None:
    first = await create_team(client, ann.headers(), "First")
    second = await create_team(client, ann.headers(), "Second")
    assert await all_pages(client, ann.headers(), "/v1/teams") == [first["id"], second["id"]]

    user_ids = [ann.user_id]
    for n in range(2):
        joiner = await register(client, mailbox, f"joiner{n}@example.com")
        await add_member(container, tenant_id=ann.tenant_id, user_id=joiner.user_id, role="viewer")
        user_ids.append(joiner.user_id)
    for user_id in user_ids:
        await add_to_team(client, ann.headers(), first["id"], user_id)
    listed = await all_pages(
        client, ann.headers(), f"/v1/teams/{first['id']}/members", key="user_id"
    )
    assert sorted(listed) == sorted(user_ids)
