"""`/v1/projects`, their team links and their environments (SPEC §6): viewers read, editors
write, admins rotate client keys; anything of another tenant (or another project) is 404."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tenantry.bootstrap import Container
from tenantry.storage.models import DomainEvent, Environment
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

pytestmark = pytest.mark.integration

PROJECT = "/v1/projects/{project}"
LINK = f"{PROJECT}/teams/{{team}}"
ENVIRONMENTS = f"{PROJECT}/environments"
ENVIRONMENT = f"{ENVIRONMENTS}/{{env}}"
ROUTES = [
    Route("GET", "/v1/projects", "viewer"),
    Route("POST", "/v1/projects", "editor", {"name": "Another"}),
    Route("GET", PROJECT, "viewer"),
    Route("PATCH", PROJECT, "editor", {"name": "Renamed"}),
    Route("DELETE", PROJECT, "editor"),
    Route("PUT", LINK, "editor"),
    Route("DELETE", LINK, "editor"),
    Route("GET", ENVIRONMENTS, "viewer"),
    Route("POST", ENVIRONMENTS, "editor", {"name": "Staging"}),
    Route("GET", ENVIRONMENT, "viewer"),
    Route("PATCH", ENVIRONMENT, "editor", {"name": "Dev"}),
    Route("DELETE", ENVIRONMENT, "editor"),
    Route("POST", f"{ENVIRONMENT}/rotate-key", "admin"),
]
ENVIRONMENT_ROUTES = [route for route in ROUTES if "{env}" in route.path]


@dataclass(frozen=True)
class Workspace:
    """The ids of a tenant's first project, one of its environments, and a new team."""

    project: str
    env: str
    team: str


async def workspace_of(client: httpx.AsyncClient, headers: dict[str, str]) -> Workspace:
    [project, *_] = await items(client, headers, "/v1/projects")
    [env, _] = await items(client, headers, ENVIRONMENTS.format(project=project["id"]))
    team = await create(client, "/v1/teams", headers, name="Core")
    return Workspace(project["id"], env["id"], team["id"])


async def items(
    client: httpx.AsyncClient, headers: dict[str, str], path: str
) -> list[dict[str, Any]]:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["items"]
    return found


async def events_of(container: Container, account: Account, event_type: str) -> list[Any]:
    async with container.db.read() as session:
        rows = await session.scalars(
            select(DomainEvent.data)
            .where(
                DomainEvent.type == event_type,
                DomainEvent.tenant_id == uuid.UUID(account.tenant_id),
            )
            .order_by(DomainEvent.created_at)
        )
        return list(rows)


@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_project_routes_check_token_tenant_and_role(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container, route: Route
) -> None:
    org = await make_org(client, mailbox, container)
    outsider = await register(client, mailbox, "outsider@example.com")
    await create(client, "/v1/projects", org.headers("owner"), name="App")
    ids = await workspace_of(client, org.headers("owner"))
    await assert_guarded(client, route, org=org, outsider=outsider, **asdict(ids))


@pytest.mark.catalogue(24)
@pytest.mark.parametrize("route", [r for r in ROUTES if "{project}" in r.path], ids=str)
async def test_another_tenants_project_and_environment_are_404(
    client: httpx.AsyncClient, ann: Account, bob: Account, route: Route
) -> None:
    mine = await workspace_of(client, ann.headers())
    bobs = await workspace_of(client, bob.headers())
    bobs_rows = [PROJECT.format(project=bobs.project), ENVIRONMENT.format(**asdict(bobs))]
    before = [(await client.get(path, headers=bob.headers())).json() for path in bobs_rows]
    for project, env in ((bobs.project, bobs.env), (str(uuid.uuid4()), str(uuid.uuid4()))):
        path = route.path.format(project=project, env=env, team=mine.team)
        response = await client.request(route.method, path, headers=ann.headers(), json=route.body)
        expected = "environment_not_found" if "{env}" in route.path else "project_not_found"
        assert_problem(response, 404, expected)
    after = [(await client.get(path, headers=bob.headers())).json() for path in bobs_rows]
    assert after == before


@pytest.mark.parametrize("route", ENVIRONMENT_ROUTES, ids=str)
async def test_an_environment_of_another_project_is_404(
    client: httpx.AsyncClient, ann: Account, route: Route
) -> None:
    first = await workspace_of(client, ann.headers())
    second = await create(client, "/v1/projects", ann.headers(), name="Second")
    path = route.path.format(project=second["id"], env=first.env)
    response = await client.request(route.method, path, headers=ann.headers(), json=route.body)
    assert_problem(response, 404, "environment_not_found")


@pytest.mark.catalogue(24)
async def test_another_tenants_team_cannot_be_linked_or_unlinked(
    client: httpx.AsyncClient, ann: Account, bob: Account
) -> None:
    mine = await workspace_of(client, ann.headers())
    bobs = await workspace_of(client, bob.headers())
    link = LINK.format(project=mine.project, team=bobs.team)
    assert_problem(await client.put(link, headers=ann.headers()), 404, "team_not_found")
    assert_problem(await client.delete(link, headers=ann.headers()), 404, "team_link_not_found")
    project = (await client.get(f"/v1/projects/{mine.project}", headers=ann.headers())).json()
    assert project["team_ids"] == []


async def test_project_lifecycle_with_default_environments_and_events(
    client: httpx.AsyncClient, container: Container, ann: Account
) -> None:
    project = await create(client, "/v1/projects", ann.headers(), name="  Shop  ")
    assert set(project) == {"id", "name", "team_ids", "created_at"}
    assert (project["name"], project["team_ids"]) == ("Shop", [])
    path = f"/v1/projects/{project['id']}"
    assert (await client.get(path, headers=ann.headers())).json() == project
    envs = await items(client, ann.headers(), f"{path}/environments")
    assert {(env["name"], env["slug"]) for env in envs} == {
        ("Development", "development"),
        ("Production", "production"),
    }

    renamed = await client.patch(path, headers=ann.headers(), json={"name": "Store"})
    assert renamed.json() == {**project, "name": "Store"}
    assert (await client.patch(path, headers=ann.headers(), json={})).json() == renamed.json()
    listed = await items(client, ann.headers(), "/v1/projects")
    assert [p["name"] for p in listed] == ["My first project", "Store"]

    assert (await client.delete(path, headers=ann.headers())).status_code == 204
    assert_problem(await client.get(path, headers=ann.headers()), 404, "project_not_found")
    assert_problem(await client.delete(path, headers=ann.headers()), 404, "project_not_found")
    of_project = Environment.project_id == uuid.UUID(project["id"])
    assert await count_rows(container.db, Environment, of_project) == 0

    created = await events_of(container, ann, "project.created")
    assert created[-1] == {"project_id": project["id"], "name": "Shop"}
    env_events = await events_of(container, ann, "environment.created")
    assert sorted(e["slug"] for e in env_events if e["project_id"] == project["id"]) == [
        "development",
        "production",
    ]
    assert await events_of(container, ann, "project.deleted") == [
        {"project_id": project["id"], "name": "Store"}
    ]


async def test_teams_link_to_projects_once_and_unlink(
    client: httpx.AsyncClient, ann: Account
) -> None:
    mine = await workspace_of(client, ann.headers())
    other = await create(client, "/v1/teams", ann.headers(), name="Other")
    link = LINK.format(project=mine.project, team=mine.team)
    linked = await client.put(link, headers=ann.headers())
    assert linked.status_code == 200
    assert linked.json()["team_ids"] == [mine.team]
    assert (await client.put(link, headers=ann.headers())).json() == linked.json()
    await client.put(LINK.format(project=mine.project, team=other["id"]), headers=ann.headers())
    [listed] = await items(client, ann.headers(), "/v1/projects")
    assert listed["team_ids"] == [mine.team, other["id"]]

    assert (await client.delete(link, headers=ann.headers())).status_code == 204
    assert_problem(await client.delete(link, headers=ann.headers()), 404, "team_link_not_found")
    await client.delete(f"/v1/teams/{other['id']}", headers=ann.headers())
    project = await client.get(f"/v1/projects/{mine.project}", headers=ann.headers())
    assert project.json()["team_ids"] == []


async def test_the_plan_limits_projects_even_under_parallel_creates(
    client: httpx.AsyncClient, ann: Account
) -> None:
    responses = await asyncio.gather(
        *(
            client.post("/v1/projects", headers=ann.headers(), json={"name": f"App {n}"})
            for n in range(5)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 201, 403, 403, 403]
    assert_problem(next(r for r in responses if r.status_code == 403), 403, "plan_limit")
    assert len(await items(client, ann.headers(), "/v1/projects")) == 3


async def test_environments_are_created_with_slugs_within_the_plan(
    client: httpx.AsyncClient, container: Container, ann: Account
) -> None:
    mine = await workspace_of(client, ann.headers())
    path = ENVIRONMENTS.format(project=mine.project)
    staging = await create(client, path, ann.headers(), name=" Staging EU ")
    assert set(staging) == {"id", "name", "slug", "client_key", "snippet", "created_at"}
    assert (staging["name"], staging["slug"]) == ("Staging EU", "staging-eu")
    assert staging["client_key"].startswith("ck_")
    assert f'data-client-key="{staging["client_key"]}"' in staging["snippet"]
    assert "http://testserver/sdk.js" in staging["snippet"]
    assert (await events_of(container, ann, "environment.created"))[-1] == {
        "project_id": mine.project,
        "environment_id": staging["id"],
        "slug": "staging-eu",
    }

    duplicate = await client.post(
        path, headers=ann.headers(), json={"name": "Prod", "slug": "production"}
    )
    assert_problem(duplicate, 409, "environment_slug_taken")
    over = await client.post(path, headers=ann.headers(), json={"name": "QA"})
    assert_problem(over, 403, "plan_limit")
    second = await create(client, "/v1/projects", ann.headers(), name="Second")
    elsewhere = ENVIRONMENTS.format(project=second["id"])
    explicit = await create(client, elsewhere, ann.headers(), name="生产", slug="prod-cn")
    assert (explicit["name"], explicit["slug"]) == ("生产", "prod-cn")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "生产"}, "invalid_slug"),
        ({"name": "!!!"}, "invalid_slug"),
        ({"name": "QA", "slug": "-qa"}, "validation_error"),
        ({"name": "QA", "slug": "Q_A"}, "validation_error"),
        ({"name": "QA", "slug": "q" * 64}, "validation_error"),
        ({"name": "x" * 101}, "validation_error"),
        ({"name": "a\x00b"}, "validation_error"),
        ({"name": " "}, "validation_error"),
        ({}, "validation_error"),
    ],
)
async def test_bad_environments_are_422(
    client: httpx.AsyncClient, ann: Account, body: dict[str, str], code: str
) -> None:
    mine = await workspace_of(client, ann.headers())
    response = await client.post(
        ENVIRONMENTS.format(project=mine.project), headers=ann.headers(), json=body
    )
    assert_problem(response, 422, code)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/projects", {"name": ""}),
        ("POST", "/v1/projects", {"name": "x" * 201}),
        ("POST", "/v1/projects", {"name": "nul\x00"}),
        ("PATCH", PROJECT, {"name": "\n"}),
        ("PATCH", ENVIRONMENT, {"name": ""}),
        ("GET", "/v1/projects/not-a-uuid", None),
        ("PUT", "/v1/projects/{project}/teams/not-a-uuid", None),
        ("GET", "/v1/projects/{project}/environments/not-a-uuid", None),
    ],
)
async def test_bad_project_input_is_422(
    client: httpx.AsyncClient, ann: Account, method: str, path: str, body: Any
) -> None:
    mine = await workspace_of(client, ann.headers())
    response = await client.request(
        method, path.format(project=mine.project, env=mine.env), headers=ann.headers(), json=body
    )
    assert_problem(response, 422, "validation_error")


async def test_environments_are_renamed_and_deleted_but_keep_their_slug(
    client: httpx.AsyncClient, ann: Account
) -> None:
    mine = await workspace_of(client, ann.headers())
    path = ENVIRONMENT.format(project=mine.project, env=mine.env)
    before = (await client.get(path, headers=ann.headers())).json()
    renamed = await client.patch(path, headers=ann.headers(), json={"name": "Local", "slug": "x"})
    assert renamed.json() == {**before, "name": "Local"}
    assert (await client.delete(path, headers=ann.headers())).status_code == 204
    assert_problem(await client.get(path, headers=ann.headers()), 404, "environment_not_found")
    remaining = await items(client, ann.headers(), ENVIRONMENTS.format(project=mine.project))
    assert [env["slug"] for env in remaining] == [
        slug for slug in ("development", "production") if slug != before["slug"]
    ]


async def test_rotating_a_key_replaces_it_and_its_snippet(
    client: httpx.AsyncClient, container: Container, ann: Account
) -> None:
    mine = await workspace_of(client, ann.headers())
    path = ENVIRONMENT.format(project=mine.project, env=mine.env)
    before = (await client.get(path, headers=ann.headers())).json()
    rotated = await client.post(f"{path}/rotate-key", headers=ann.headers())
    assert rotated.status_code == 200
    after = rotated.json()
    assert after["client_key"] != before["client_key"]
    assert after["snippet"] == before["snippet"].replace(before["client_key"], after["client_key"])
    assert (await client.get(path, headers=ann.headers())).json() == after
    old_key = Environment.client_key == before["client_key"]
    assert await count_rows(container.db, Environment, old_key) == 0


@pytest.mark.catalogue(41)
async def test_idempotency_key_creates_one_project(client: httpx.AsyncClient, ann: Account) -> None:
    headers = {**ann.headers(), "Idempotency-Key": "create-shop"}
    first = await client.post("/v1/projects", headers=headers, json={"name": "Shop"})
    again = await client.post("/v1/projects", headers=headers, json={"name": "Shop"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post("/v1/projects", headers=headers, json={"name": "Other"})
    assert_problem(other, 409, "idempotency_key_reused")
    listed = await items(client, ann.headers(), "/v1/projects")
    assert [p["name"] for p in listed] == ["My first project", "Shop"]


async def test_project_cursors_are_stable_under_inserts(
    client: httpx.AsyncClient, ann: Account
) -> None:
    [first] = await items(client, ann.headers(), "/v1/projects")
    second = await create(client, "/v1/projects", ann.headers(), name="Second")
    page = (await client.get("/v1/projects?limit=1", headers=ann.headers())).json()
    assert [p["id"] for p in page["items"]] == [first["id"]]
    third = await create(client, "/v1/projects", ann.headers(), name="Third")
    rest = await all_pages(client, ann.headers(), "/v1/projects", after=page["next_cursor"])
    assert rest == [second["id"], third["id"]]
