"""`/v1/projects/{id}/experiments` (SPEC §10): experiments live in the tenant's data store (the
pool or its silo) while their projects and environments live in the core database; they are
deployed to `development` before any other environment. Viewers read, editors write; anything
of another tenant or another project is 404."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tenantry.bootstrap import Container
from tenantry.storage.tenant_models import CollectedEvent, Experiment, ExperimentDeployment
from tests.support.api import Account, register
from tests.support.clock import ShiftableClock
from tests.support.mailbox import Mailbox
from tests.support.plans import override_features
from tests.support.routes import (
    Route,
    all_pages,
    assert_guarded,
    assert_problem,
    create,
    make_org,
)

pytestmark = pytest.mark.integration

EXPERIMENTS = "/v1/projects/{project}/experiments"
EXPERIMENT = f"{EXPERIMENTS}/{{experiment}}"
DEPLOY = f"{EXPERIMENT}/deploy"
ROUTES = [
    Route("GET", EXPERIMENTS, "viewer"),
    Route("POST", EXPERIMENTS, "editor", {"name": "Another"}),
    Route("GET", EXPERIMENT, "viewer"),
    Route("POST", DEPLOY, "editor", {"environment_id": str(uuid.uuid4())}),
]


@dataclass(frozen=True)
class Lab:
    """A project of a tenant, its two default environments and one experiment in it."""

    project: str
    development: str
    production: str
    experiment: str

    def path(self, template: str) -> str:
        return template.format(**asdict(self))


async def lab_of(client: httpx.AsyncClient, headers: dict[str, str], name: str = "Lab") -> Lab:
    project = await create(client, "/v1/projects", headers, name=name)
    envs = await items(client, headers, f"/v1/projects/{project['id']}/environments")
    slugs = {env["slug"]: env["id"] for env in envs}
    path = EXPERIMENTS.format(project=project["id"])
    experiment = await create(client, path, headers, name="Checkout button")
    return Lab(project["id"], slugs["development"], slugs["production"], experiment["id"])


async def items(
    client: httpx.AsyncClient, headers: dict[str, str], path: str
) -> list[dict[str, Any]]:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["items"]
    return found


async def deploy(
    client: httpx.AsyncClient, headers: dict[str, str], lab: Lab, environment_id: str
) -> httpx.Response:
    body = {"environment_id": environment_id}
    return await client.post(lab.path(DEPLOY), headers=headers, json=body)


@pytest.fixture(params=["pool", "silo"])
async def account(request: pytest.FixtureRequest, container: Container, ann: Account) -> Account:
    """Ann, whose personal tenant is on a pool plan or has moved to a silo of its own."""
    if request.param == "silo":
        await container.plan_changes.change_plan(
            tenant_id=uuid.UUID(ann.tenant_id), plan=container.plans.get("premium"), actor_id=None
        )
    return ann


@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_experiment_routes_check_token_tenant_and_role(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container, route: Route
) -> None:
    org = await make_org(client, mailbox, container)
    outsider = await register(client, mailbox, "outsider@example.com")
    lab = await lab_of(client, org.headers("owner"))
    await assert_guarded(client, route, org=org, outsider=outsider, **asdict(lab))


async def test_viewers_read_and_editors_write(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container
) -> None:
    org = await make_org(client, mailbox, container)
    lab = await lab_of(client, org.headers("owner"))
    editor, viewer = org.headers("editor"), org.headers("viewer")
    made = await create(client, lab.path(EXPERIMENTS), editor, name="By an editor")
    assert (await deploy(client, editor, lab, lab.development)).status_code == 200
    listed = await items(client, viewer, lab.path(EXPERIMENTS))
    assert [e["name"] for e in listed] == ["Checkout button", "By an editor"]
    assert made["created_by"] == org.members["editor"].user_id
    got = await client.get(lab.path(EXPERIMENT), headers=viewer)
    assert [live["slug"] for live in got.json()["live_in"]] == ["development"]


async def test_experiment_lifecycle_from_development_to_production(
    client: httpx.AsyncClient, clock: ShiftableClock, account: Account
) -> None:
    headers = account.headers()
    lab = await lab_of(client, headers)
    path = lab.path(EXPERIMENT)
    experiment = (await client.get(path, headers=headers)).json()
    assert experiment["project_id"] == lab.project
    assert (experiment["name"], experiment["description"]) == ("Checkout button", "")
    assert (experiment["created_by"], experiment["live_in"]) == (account.user_id, [])

    refused = await deploy(client, headers, lab, lab.production)
    assert_problem(refused, 409, "not_tested_in_development")
    tested = await deploy(client, headers, lab, lab.development)
    assert tested.status_code == 200, tested.text
    [dev] = tested.json()["live_in"]
    assert (dev["environment_id"], dev["slug"]) == (lab.development, "development")
    clock.advance(60)
    again = await deploy(client, headers, lab, lab.development)
    assert (again.status_code, again.json()) == (200, tested.json())

    shipped = await deploy(client, headers, lab, lab.production)
    assert shipped.status_code == 200, shipped.text
    assert [live["slug"] for live in shipped.json()["live_in"]] == ["development", "production"]
    assert shipped.json()["live_in"][0] == dev
    assert (await client.get(path, headers=headers)).json() == shipped.json()
    assert (await deploy(client, headers, lab, lab.production)).json() == shipped.json()


async def test_the_list_shows_where_each_experiment_is_live(
    client: httpx.AsyncClient, account: Account
) -> None:
    headers = account.headers()
    lab = await lab_of(client, headers)
    draft = await create(client, lab.path(EXPERIMENTS), headers, name="Draft", description="Wip")
    await deploy(client, headers, lab, lab.development)
    await deploy(client, headers, lab, lab.production)
    other = await lab_of(client, headers, name="Other project")

    listed = await items(client, headers, lab.path(EXPERIMENTS))
    assert [(e["id"], e["description"]) for e in listed] == [
        (lab.experiment, ""),
        (draft["id"], "Wip"),
    ]
    live = {e["name"]: [(x["environment_id"], x["slug"]) for x in e["live_in"]] for e in listed}
    assert live == {
        "Checkout button": [(lab.development, "development"), (lab.production, "production")],
        "Draft": [],
    }
    assert [e["id"] for e in await items(client, headers, other.path(EXPERIMENTS))] == [
        other.experiment
    ]
    pages = await all_pages(client, headers, lab.path(EXPERIMENTS))
    assert pages == [lab.experiment, draft["id"]]


async def test_names_are_unique_per_project_and_validated(
    client: httpx.AsyncClient, account: Account
) -> None:
    headers = account.headers()
    lab = await lab_of(client, headers)
    path = lab.path(EXPERIMENTS)
    taken = await client.post(path, headers=headers, json={"name": " Checkout button "})
    assert_problem(taken, 409, "experiment_exists")
    other = await lab_of(client, headers, name="Other project")
    assert other.experiment != lab.experiment  # the same name in another project is fine
    for body in ({"name": ""}, {"name": "x" * 201}, {"name": "ok", "description": "d" * 2001}):
        response = await client.post(path, headers=headers, json=body)
        assert response.status_code == 422, body
    longest = {"name": "x" * 200, "description": "d" * 2000}
    assert (await client.post(path, headers=headers, json=longest)).status_code == 201
    assert len(await items(client, headers, path)) == 2


async def test_parallel_creates_and_deploys_do_not_collide(
    client: httpx.AsyncClient, account: Account
) -> None:
    headers = account.headers()
    lab = await lab_of(client, headers)
    path = lab.path(EXPERIMENTS)
    created = await asyncio.gather(
        *(client.post(path, headers=headers, json={"name": "Same"}) for _ in range(4))
    )
    assert sorted(response.status_code for response in created) == [201, 409, 409, 409]
    deployed = await asyncio.gather(
        *(deploy(client, headers, lab, lab.development) for _ in range(4))
    )
    assert {response.status_code for response in deployed} == {200}
    assert len({str(response.json()["live_in"]) for response in deployed}) == 1


async def test_an_environment_of_another_project_is_404(
    client: httpx.AsyncClient, account: Account
) -> None:
    headers = account.headers()
    lab = await lab_of(client, headers)
    other = await lab_of(client, headers, name="Other project")
    for environment_id in (other.development, str(uuid.uuid4())):
        response = await deploy(client, headers, lab, environment_id)
        assert_problem(response, 404, "environment_not_found")
    assert (await client.get(lab.path(EXPERIMENT), headers=headers)).json()["live_in"] == []


async def test_another_projects_experiment_is_404(
    client: httpx.AsyncClient, account: Account
) -> None:
    headers = account.headers()
    lab = await lab_of(client, headers)
    other = await lab_of(client, headers, name="Other project")
    mixed = Lab(other.project, other.development, other.production, lab.experiment)
    assert_problem(
        await client.get(mixed.path(EXPERIMENT), headers=headers), 404, "experiment_not_found"
    )
    response = await deploy(client, headers, mixed, other.development)
    assert_problem(response, 404, "experiment_not_found")


@pytest.fixture
async def pool_and_silo(
    container: Container, bob: Account, carol: Account
) -> tuple[Account, Account]:
    """Bob's tenant stays in the pool; Carol's moves to a silo."""
    await container.plan_changes.change_plan(
        tenant_id=uuid.UUID(carol.tenant_id), plan=container.plans.get("premium"), actor_id=None
    )
    return bob, carol


async def test_pool_and_silo_tenants_keep_their_experiments_apart(
    client: httpx.AsyncClient, container: Container, pool_and_silo: tuple[Account, Account]
) -> None:
    pool, silo = pool_and_silo
    labs = {account.user_id: await lab_of(client, account.headers()) for account in pool_and_silo}
    for account in pool_and_silo:
        lab = labs[account.user_id]
        assert [e["id"] for e in await items(client, account.headers(), lab.path(EXPERIMENTS))] == [
            lab.experiment
        ]
    async with container.db.read() as session:
        pooled = set(await session.scalars(select(Experiment.id)))
    assert uuid.UUID(labs[pool.user_id].experiment) in pooled
    assert uuid.UUID(labs[silo.user_id].experiment) not in pooled
    async with (await container.tenant_data.store_of(uuid.UUID(silo.tenant_id))).read() as session:
        assert set(await session.scalars(select(Experiment.id))) == {
            uuid.UUID(labs[silo.user_id].experiment)
        }


@pytest.mark.catalogue(24)
@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_another_tenants_project_and_experiment_are_404(
    client: httpx.AsyncClient, pool_and_silo: tuple[Account, Account], route: Route
) -> None:
    pool, silo = pool_and_silo
    for me, them in ((pool, silo), (silo, pool)):
        mine = await lab_of(client, me.headers(), name=f"Mine {me.user_id}")
        theirs = await lab_of(client, them.headers(), name=f"Theirs {me.user_id}")
        for project, experiment, expected in (
            (theirs.project, theirs.experiment, "project_not_found"),
            (str(uuid.uuid4()), mine.experiment, "project_not_found"),
            (mine.project, theirs.experiment, "experiment_not_found"),
        ):
            if expected == "experiment_not_found" and "{experiment}" not in route.path:
                continue
            path = route.path.format(project=project, experiment=experiment)
            body = {"environment_id": mine.development} if route.path == DEPLOY else route.body
            response = await client.request(route.method, path, headers=me.headers(), json=body)
            assert_problem(response, 404, expected)
        got = await client.get(theirs.path(EXPERIMENT), headers=them.headers())
        assert got.json()["live_in"] == []


async def test_deleting_environments_and_projects_removes_their_tenant_data(
    client: httpx.AsyncClient, container: Container, account: Account
) -> None:
    headers = account.headers()
    lab = await lab_of(client, headers)
    assert (await deploy(client, headers, lab, lab.development)).status_code == 200
    [development] = [
        env
        for env in await items(client, headers, f"/v1/projects/{lab.project}/environments")
        if env["id"] == lab.development
    ]
    sent = await client.post(
        "/v1/collect",
        json={"type": "click", "data": {}},
        headers={"X-Client-Key": development["client_key"]},
    )
    assert sent.status_code == 202, sent.text
    tenant_id = uuid.UUID(account.tenant_id)

    environment = f"/v1/projects/{lab.project}/environments/{lab.development}"
    assert (await client.delete(environment, headers=headers)).status_code == 204
    assert await tenant_rows(container, tenant_id) == {"experiments": 1, "deployed": 0, "events": 0}

    assert (await client.delete(f"/v1/projects/{lab.project}", headers=headers)).status_code == 204
    assert await tenant_rows(container, tenant_id) == {"experiments": 0, "deployed": 0, "events": 0}


async def tenant_rows(container: Container, tenant_id: uuid.UUID) -> dict[str, int]:
    async with container.tenant_data.unit(tenant_id, write=False) as session:
        counts = {}
        for label, model in (
            ("experiments", Experiment),
            ("deployed", ExperimentDeployment),
            ("events", CollectedEvent),
        ):
            counts[label] = await session.scalar(select(func.count()).select_from(model)) or 0
    return counts


async def test_an_idempotency_key_creates_one_experiment(
    client: httpx.AsyncClient, account: Account
) -> None:
    headers = account.headers()
    lab = await lab_of(client, headers)
    path = EXPERIMENTS.format(project=lab.project)
    keyed = headers | {"Idempotency-Key": "exp-1"}
    first = await client.post(path, headers=keyed, json={"name": "Pricing page"})
    again = await client.post(path, headers=keyed, json={"name": "Pricing page"})
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post(path, headers=keyed, json={"name": "Another"})
    assert_problem(other, 409, "idempotency_key_reused")
    names = [item["name"] for item in await items(client, headers, path)]
    assert sorted(names) == ["Checkout button", "Pricing page"]


async def test_an_override_stops_creating_and_deploying_but_keeps_what_exists(
    client: httpx.AsyncClient, account: Account, operator: Account
) -> None:
    """Every shipped plan has `experiments`; a platform admin's "always off" stops new
    experiments, deploys and experiment events from the next request; reading them stays."""
    headers = account.headers()
    lab = await lab_of(client, headers)
    assert (await deploy(client, headers, lab, lab.development)).status_code == 200
    [development] = [
        env
        for env in await items(client, headers, f"/v1/projects/{lab.project}/environments")
        if env["id"] == lab.development
    ]
    key = {"X-Client-Key": development["client_key"]}
    event = {"type": "click", "data": {}, "experiment_id": lab.experiment}
    assert (await client.post("/v1/collect", json=event, headers=key)).status_code == 202

    await override_features(client, operator, account.tenant_id, experiments=False)

    refusals = [
        await client.post(lab.path(EXPERIMENTS), headers=headers, json={"name": "New"}),
        await deploy(client, headers, lab, lab.production),
        await client.post("/v1/collect", json=event, headers=key),
    ]
    for refused in refusals:
        assert_problem(refused, 403, "feature_not_in_plan")
        assert refused.json()["feature"] == "experiments"
        assert "switched off" in refused.json()["detail"]
    plain = await client.post("/v1/collect", json={"type": "click", "data": {}}, headers=key)
    assert plain.status_code == 202, plain.text  # events outside experiments need no feature
    listed = await items(client, headers, lab.path(EXPERIMENTS))
    assert [e["id"] for e in listed] == [lab.experiment]
    assert (await client.get(lab.path(EXPERIMENT), headers=headers)).status_code == 200

    await override_features(client, operator, account.tenant_id, experiments=None)
    assert (await deploy(client, headers, lab, lab.production)).status_code == 200
