"""Collection (SPEC §10): `POST /v1/collect` with an environment's client key stores the event
in its tenant's store (the pool or the silo) and only that environment lists it; bad keys,
bodies and rates are refused with problems a browser can read (CORS)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tenantry.bootstrap import Container
from tenantry.settings import Settings
from tenantry.storage.tenant_models import CollectedEvent
from tenantry.transports.rest.app import create_app
from tests.support.api import Account
from tests.support.clock import ShiftableClock
from tests.support.routes import assert_problem

pytestmark = pytest.mark.integration

COLLECT = "/v1/collect"
EVENTS = "/v1/projects/{project}/environments/{env}/events"


@dataclass(frozen=True)
class Env:
    project: str
    id: str
    client_key: str

    @property
    def events(self) -> str:
        return EVENTS.format(project=self.project, env=self.id)


async def environments_of(client: httpx.AsyncClient, account: Account) -> list[Env]:
    """The environments of the account's first project (development, production)."""
    projects = await client.get("/v1/projects", headers=account.headers())
    project = projects.json()["items"][0]["id"]
    response = await client.get(f"/v1/projects/{project}/environments", headers=account.headers())
    assert response.status_code == 200, response.text
    return [Env(project, env["id"], env["client_key"]) for env in response.json()["items"]]


async def send(
    client: httpx.AsyncClient, key: str, event_type: str = "click", **data: Any
) -> httpx.Response:
    body = {"type": event_type, "data": data}
    return await client.post(COLLECT, json=body, headers={"X-Client-Key": key})


async def listed(client: httpx.AsyncClient, account: Account, env: Env) -> list[dict[str, Any]]:
    response = await client.get(env.events, headers=account.headers())
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_an_event_is_listed_in_its_environment_only(
    client: httpx.AsyncClient, ann: Account
) -> None:
    development, production = await environments_of(client, ann)
    experiment = str(uuid.uuid4())
    response = await client.post(
        COLLECT,
        json={"type": "signup", "data": {"plan": "pro"}, "experiment_id": experiment},
        headers={"X-Client-Key": development.client_key, "Origin": "https://shop.example"},
    )
    assert response.status_code == 202, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    [event] = await listed(client, ann, development)
    assert event["id"] == response.json()["id"]
    assert (event["type"], event["data"], event["experiment_id"]) == (
        "signup",
        {"plan": "pro"},
        experiment,
    )
    assert event["environment_id"] == development.id
    assert await listed(client, ann, production) == []


async def test_events_are_listed_newest_first_in_pages(
    client: httpx.AsyncClient, ann: Account, clock: ShiftableClock
) -> None:
    [env, _] = await environments_of(client, ann)
    for number in range(3):
        assert (await send(client, env.client_key, n=number)).status_code == 202
        clock.advance(1)
    first = await client.get(env.events, params={"limit": 2}, headers=ann.headers())
    assert [item["data"]["n"] for item in first.json()["items"]] == [2, 1]
    cursor = first.json()["next_cursor"]
    rest = await client.get(env.events, params={"cursor": cursor}, headers=ann.headers())
    assert [item["data"]["n"] for item in rest.json()["items"]] == [0]
    assert rest.json()["next_cursor"] is None


async def test_another_tenant_cannot_list_the_events(
    client: httpx.AsyncClient, ann: Account, bob: Account
) -> None:
    [env, _] = await environments_of(client, ann)
    [bobs_env, _] = await environments_of(client, bob)
    assert (await send(client, env.client_key)).status_code == 202
    as_ann_tenant = await client.get(env.events, headers=bob.headers(ann.tenant_id))
    assert_problem(as_ann_tenant, 403, "tenant_access_denied")
    as_own_tenant = await client.get(env.events, headers=bob.headers())
    assert_problem(as_own_tenant, 404, "environment_not_found")
    mixed = EVENTS.format(project=env.project, env=bobs_env.id)
    assert_problem(await client.get(mixed, headers=ann.headers()), 404, "environment_not_found")


async def test_a_silo_tenants_events_land_in_its_silo(
    client: httpx.AsyncClient, container: Container, ann: Account, carol: Account
) -> None:
    silo_tenant = uuid.UUID(carol.tenant_id)
    await container.plan_changes.change_plan(
        tenant_id=silo_tenant, plan=container.plans.get("premium"), actor_id=None
    )
    [env, _] = await environments_of(client, carol)
    [pool_env, _] = await environments_of(client, ann)
    response = await send(client, env.client_key, "view")
    assert response.status_code == 202, response.text
    assert (await send(client, pool_env.client_key, "view")).status_code == 202
    silo = await container.tenant_data.store_of(silo_tenant)
    assert silo is not container.db
    async with silo.read() as session:
        assert set(await session.scalars(select(CollectedEvent.id))) == {
            uuid.UUID(response.json()["id"])
        }
    async with container.db.read() as session:
        pool_tenants = set(await session.scalars(select(CollectedEvent.tenant_id)))
    assert pool_tenants == {uuid.UUID(ann.tenant_id)}
    assert [event["id"] for event in await listed(client, carol, env)] == [response.json()["id"]]


async def test_unknown_and_rotated_keys_are_refused(
    client: httpx.AsyncClient, ann: Account
) -> None:
    [env, _] = await environments_of(client, ann)
    assert_problem(await send(client, "ck_unknown"), 401, "invalid_client_key")
    missing = await client.post(COLLECT, json={"type": "x", "data": {}})
    assert_problem(missing, 401, "invalid_client_key")
    assert missing.headers["access-control-allow-origin"] == "*"
    assert (await send(client, env.client_key)).status_code == 202  # cached now
    rotate = f"/v1/projects/{env.project}/environments/{env.id}/rotate-key"
    rotated = await client.post(rotate, headers=ann.headers())
    assert rotated.status_code == 200, rotated.text
    assert_problem(await send(client, env.client_key), 401, "invalid_client_key")
    assert (await send(client, rotated.json()["client_key"])).status_code == 202


async def test_a_disabled_tenants_keys_stop_working(
    client: httpx.AsyncClient, container: Container, ann: Account
) -> None:
    [env, _] = await environments_of(client, ann)
    assert (await send(client, env.client_key)).status_code == 202  # cached now
    admin = container.admin_tenants
    await admin.disable(
        tenant_id=uuid.UUID(ann.tenant_id), reason=None, admin_id=uuid.UUID(ann.user_id)
    )
    assert_problem(await send(client, env.client_key), 401, "invalid_client_key")
    await admin.enable(tenant_id=uuid.UUID(ann.tenant_id), admin_id=uuid.UUID(ann.user_id))
    assert (await send(client, env.client_key)).status_code == 202


async def test_bodies_are_limited_to_16_kib_of_json(
    client: httpx.AsyncClient, ann: Account
) -> None:
    [env, _] = await environments_of(client, ann)
    key = {"X-Client-Key": env.client_key}
    large = await send(client, env.client_key, blob="x" * 16_400)
    assert_problem(large, 413, "payload_too_large")
    assert large.headers["access-control-allow-origin"] == "*"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as read
        yield b'{"type": "x", "data": {"blob": "'
        for _ in range(20):
            yield b"y" * 1024
        yield b'"}}'

    streamed = await client.post(
        COLLECT, content=chunks(), headers={**key, "Content-Type": "application/json"}
    )
    assert_problem(streamed, 413, "payload_too_large")
    form = await client.post(COLLECT, data={"type": "x"}, headers=key)
    assert_problem(form, 415, "unsupported_media_type")
    beacon = await client.post(
        COLLECT,
        params={"client_key": env.client_key},
        content=b'{"type": "beacon", "data": {}}',
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )
    assert beacon.status_code == 202, beacon.text
    bad_json = await client.post(
        COLLECT, content=b"{", headers={**key, "Content-Type": "application/json"}
    )
    assert_problem(bad_json, 400, "malformed_request")
    for body in ({"type": "", "data": {}}, {"type": "x" * 101}, {"type": "x", "data": [1]}):
        response = await client.post(COLLECT, json=body, headers=key)
        assert_problem(response, 422, "validation_error")


async def test_the_cors_preflight_is_answered(client: httpx.AsyncClient) -> None:
    response = await client.options(
        COLLECT,
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-client-key",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == "POST"
    allowed = {h.strip() for h in response.headers["access-control-allow-headers"].split(",")}
    assert allowed == {"content-type", "x-client-key"}
    other = await client.options("/v1/me", headers={"Origin": "https://shop.example"})
    assert "access-control-allow-origin" not in other.headers


async def test_a_key_over_its_rate_is_throttled(
    settings: Settings, clock: ShiftableClock, client: httpx.AsyncClient, ann: Account
) -> None:
    [env, _] = await environments_of(client, ann)
    limited = Container(settings.model_copy(update={"collect_rate": 0.5, "collect_burst": 3}))
    await limited.start(migrate=False, workers=False)
    try:
        transport = httpx.ASGITransport(app=create_app(limited))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
            statuses = [(await send(other, env.client_key)).status_code for _ in range(3)]
            assert statuses == [202, 202, 202]
            throttled = await send(other, env.client_key)
            assert_problem(throttled, 429, "rate_limited")
            assert 1 <= int(throttled.headers["retry-after"]) <= 2
            assert throttled.headers["access-control-allow-origin"] == "*"
    finally:
        await limited.stop()


async def test_concurrent_events_are_all_stored(
    client: httpx.AsyncClient, container: Container, ann: Account
) -> None:
    [env, _] = await environments_of(client, ann)
    responses = await asyncio.gather(*(send(client, env.client_key, n=n) for n in range(100)))
    assert [response.status_code for response in responses] == [202] * 100
    async with container.tenant_data.unit(uuid.UUID(ann.tenant_id), write=False) as session:
        stored = await session.scalar(select(func.count()).select_from(CollectedEvent))
    assert stored == 100
    assert {r.json()["id"] for r in responses} == {e["id"] for e in await _all(client, ann, env)}


async def _all(client: httpx.AsyncClient, account: Account, env: Env) -> list[dict[str, Any]]:
    response = await client.get(env.events, params={"limit": 200}, headers=account.headers())
    items: list[dict[str, Any]] = response.json()["items"]
    return items
