"""Tenant isolation of every list (security catalogue 27): two tenants, Alpha and Bravo, each
with one of everything, in the pool or in a silo of its own. Bravo's universe is what Bravo's
owner reads through every list; then Alpha's owner reads every list, in full and page by page,
and hypothesis varies the rest (limits, cursors of either tenant, filters, foreign path ids,
unknown query parameters, and `X-Tenant-ID` spelled every way a UUID parses). No answer is a
5xx, and none carries one of Bravo's ids, names or addresses."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from tenantry.bootstrap import Container
from tenantry.settings import Settings
from tests.support.api import Account, create_organization, register
from tests.support.mailbox import Mailbox
from tests.support.routes import create
from tests.support.server import running_server
from tests.support.tenancy import add_member

pytestmark = [pytest.mark.integration, pytest.mark.catalogue(27)]

PLACEMENTS = [("pool", "pool"), ("pool", "silo"), ("silo", "pool"), ("silo", "silo")]
PLAN = {"pool": "standard", "silo": "premium"}  # both with webhooks and the audit log
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Every list of the tenant-scoped API, and the caller's own tenants.
LISTS = [
    "/v1/members",
    "/v1/teams",
    "/v1/teams/{team}/members",
    "/v1/projects",
    "/v1/projects/{project}/environments",
    "/v1/projects/{project}/experiments",
    "/v1/projects/{project}/environments/{env}/events",
    "/v1/invitations",
    "/v1/products",
    "/v1/orders",
    "/v1/audit-log",
    "/v1/webhook-endpoints",
    "/v1/webhook-endpoints/{endpoint}/deliveries",
    "/v1/tenants",
]
AUDIT_ACTIONS = ["project.created", "team.created", "product.created", "invitation.created"]
STRAY_PARAMETERS = ["tenant_id", "project_id", "user_id", "team_id", "environment_id", "q"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Webhook endpoints on loopback (nothing listens; the deliveries are what is listed)."""
    return settings.model_copy(update={"webhook_allow_private": True})


@dataclass
class Seeded:
    """A tenant with one of everything, its owner, the ids its paths take, and what its owner
    reads through every list (texts, and the cursors met on the way)."""

    label: str
    owner: Account
    tenant_id: str
    ids: dict[str, str]
    texts: list[str] = field(default_factory=list)
    cursors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def marker(self) -> str:
        return self.label.upper()

    def headers(self) -> dict[str, str]:
        return self.owner.headers(self.tenant_id)

    def universe(self) -> set[str]:
        """Every id its lists show, and its people's addresses."""
        found = {match for text in self.texts for match in UUID.findall(text)}
        return found | {self.owner.email, f"{self.label}-member@example.com"}


async def seed(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    container: Container,
    label: str,
    placement: str,
) -> Seeded:
    marker = label.upper()
    owner = await register(client, mailbox, f"{label}-owner@example.com", name=f"{marker} Owner")
    member = await register(client, mailbox, f"{label}-member@example.com", name=f"{marker} M")
    tenant_id = await create_organization(client, owner, f"{marker} Corp")
    await container.plan_changes.change_plan(
        tenant_id=uuid.UUID(tenant_id), plan=container.plans.get(PLAN[placement]), actor_id=None
    )
    await add_member(container, tenant_id=tenant_id, user_id=member.user_id, role="viewer")
    headers = owner.headers(tenant_id)
    endpoint = await create(
        client, "/v1/webhook-endpoints", headers, url="http://127.0.0.1:9/hook", events=["*"]
    )
    team = await create(client, "/v1/teams", headers, name=f"{marker} Team")
    added = await client.put(f"/v1/teams/{team['id']}/members/{member.user_id}", headers=headers)
    assert added.is_success, added.text
    project = await create(client, "/v1/projects", headers, name=f"{marker} Project")
    envs = await client.get(f"/v1/projects/{project['id']}/environments", headers=headers)
    env = next(item for item in envs.json()["items"] if item["slug"] == "development")
    experiments = f"/v1/projects/{project['id']}/experiments"
    experiment = await create(client, experiments, headers, name=f"{marker} Experiment")
    deployed = await client.post(
        f"{experiments}/{experiment['id']}/deploy",
        headers=headers,
        json={"environment_id": env["id"]},
    )
    assert deployed.is_success, deployed.text
    collected = await client.post(
        "/v1/collect",
        headers={"X-Client-Key": env["client_key"]},
        json={"type": f"{marker}-click", "data": {"who": marker}},
    )
    assert collected.status_code == 202, collected.text
    await create(
        client, "/v1/invitations", headers, email=f"{label}-invitee@example.com", role="viewer"
    )
    product = await create(
        client, "/v1/products", headers, name=f"{marker} Product", price_cents=100, currency="EUR"
    )
    await create(
        client, "/v1/orders", headers, lines=[{"product_id": product["id"], "quantity": 2}]
    )
    ids = {
        "team": team["id"],
        "project": project["id"],
        "env": env["id"],
        "endpoint": endpoint["id"],
    }
    return Seeded(label, owner, tenant_id, ids)


async def read_everything(client: httpx.AsyncClient, tenant: Seeded) -> None:
    """Every list of `tenant` as its owner reads it, whole and one item per page."""
    for template in LISTS:
        path = template.format(**tenant.ids)
        whole = await client.get(path, headers=tenant.headers())
        assert whole.status_code == 200, (path, whole.text)
        tenant.texts.append(whole.text)
        params: dict[str, Any] = {"limit": 1}
        cursors = tenant.cursors.setdefault(template, [])
        while True:
            page = await client.get(path, headers=tenant.headers(), params=params)
            assert page.status_code == 200, (path, page.text)
            tenant.texts.append(page.text)
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
            cursors.append(cursor)
            params["cursor"] = cursor


@dataclass
class World:
    client: httpx.AsyncClient
    alpha: Seeded
    bravo: Seeded

    def assert_nothing_of_bravo(self, response: httpx.Response, context: object) -> None:
        assert response.status_code < 500, (context, response.text)
        leaked = self.bravo.universe() & set(UUID.findall(response.text))
        assert not leaked, (context, leaked)
        assert self.bravo.marker not in response.text, (context, response.text)
        assert f"{self.bravo.label}-" not in response.text, (context, response.text)


@pytest.fixture(params=PLACEMENTS, ids=lambda pair: "-".join(pair))
async def world(
    request: pytest.FixtureRequest,
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    container: Container,
) -> World:
    alpha_placement, bravo_placement = request.param
    alpha = await seed(client, mailbox, container, "alpha", alpha_placement)
    bravo = await seed(client, mailbox, container, "bravo", bravo_placement)
    for tenant in (alpha, bravo):
        await read_everything(client, tenant)
    for placement, tenant in zip(request.param, (alpha, bravo), strict=True):
        store = await container.tenant_data.store_of(uuid.UUID(tenant.tenant_id))
        assert (store is container.db) == (placement == "pool")
    return World(client, alpha, bravo)


async def test_no_list_shows_another_tenants_rows(world: World) -> None:
    alpha, bravo = world.alpha, world.bravo
    # Not vacuous: each tenant's lists show its own things, Bravo's an order and an event too.
    assert all(any(t.marker in text for text in t.texts) for t in (alpha, bravo))
    assert len(bravo.universe()) > 20
    for text in alpha.texts:
        assert bravo.marker not in text
        assert not bravo.universe() & set(UUID.findall(text))
    for template in LISTS:
        foreign = template.format(**bravo.ids)
        if foreign != template:  # Bravo's ids under Alpha's header: nothing to see
            response = await world.client.get(foreign, headers=alpha.headers())
            assert response.status_code == 404, (foreign, response.text)
            world.assert_nothing_of_bravo(response, foreign)


def tenant_headers(world: World) -> st.SearchStrategy[dict[str, str]]:
    """X-Tenant-ID as anything a UUID parses from, of either tenant, or none at all."""
    alpha, bravo = uuid.UUID(world.alpha.tenant_id), uuid.UUID(world.bravo.tenant_id)
    spellings = st.sampled_from(
        [str, lambda u: str(u).upper(), lambda u: u.hex, lambda u: f"{{{u}}}", lambda u: u.urn]
    )
    tenant = st.sampled_from([alpha, bravo, uuid.uuid4()])
    bearer = {"Authorization": f"Bearer {world.alpha.owner.access_token}"}
    spelled = st.builds(lambda spell, t: {**bearer, "X-Tenant-ID": spell(t)}, spellings, tenant)
    return st.one_of(spelled, st.just(bearer))


@st.composite
def requests(draw: st.DrawFn, world: World) -> tuple[str, dict[str, str], dict[str, Any]]:
    alpha, bravo = world.alpha, world.bravo
    template = draw(st.sampled_from(LISTS))
    path = template.format(**draw(st.sampled_from([alpha.ids, alpha.ids, bravo.ids])))
    every_cursor = [c for t in (alpha, bravo) for cs in t.cursors.values() for c in cs]
    params: dict[str, Any] = {}
    if draw(st.booleans()):
        params["limit"] = draw(st.integers(min_value=-1, max_value=120))
    if draw(st.booleans()):
        params["cursor"] = draw(st.sampled_from(every_cursor) | st.text(max_size=40))
    if template == "/v1/audit-log":
        if draw(st.booleans()):
            params["action"] = draw(st.lists(st.sampled_from(AUDIT_ACTIONS), max_size=3))
        if draw(st.booleans()):
            params["target_id"] = draw(st.sampled_from(sorted(bravo.universe())))
        if draw(st.booleans()):
            params["since"] = "2000-01-01T00:00:00Z"
    ids = sorted(alpha.universe() | bravo.universe())
    stray = st.dictionaries(st.sampled_from(STRAY_PARAMETERS), st.sampled_from(ids), max_size=2)
    params |= draw(stray)
    return path, draw(tenant_headers(world)), params


async def test_fuzzed_list_requests_never_show_another_tenants_rows(
    world: World, settings: Settings
) -> None:
    bravo_header = {uuid.UUID(world.bravo.tenant_id)}
    foreign_paths = {template.format(**world.bravo.ids) for template in LISTS} - set(LISTS)
    seen: Counter[int] = Counter()
    # Hypothesis runs examples synchronously: a real server, and a blocking client.
    with running_server(settings) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:

        @examples(
            max_examples=150,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(request=requests(world))
        # Always one of Bravo's rows under Alpha's header, whatever the draw: the outcome
        # check below needs a 404, which random draws missed in about one run in ten.
        @example(request=(sorted(foreign_paths)[0], world.alpha.headers(), {}))
        def probe(request: tuple[str, dict[str, str], dict[str, Any]]) -> None:
            path, headers, params = request
            response = http.get(path, headers=headers, params=params)
            seen[response.status_code] += 1
            world.assert_nothing_of_bravo(response, request)
            if path == "/v1/tenants":
                return  # not tenant-scoped: the caller's own tenants, whatever the header
            header = headers.get("X-Tenant-ID")
            if (header and uuid.UUID(header) in bravo_header) or path in foreign_paths:
                assert response.status_code in (400, 403, 404, 422), (request, response.text)

        probe()
    assert {200, 403, 404, 422} <= set(seen), seen  # the examples reached every outcome
