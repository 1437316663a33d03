"""`/v1/tenant` (getOrg, profile, delete), `/v1/plans`, and Idempotency-Key on creating POSTs
(SPEC §3, §6)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tenantry.bootstrap import Container
from tenantry.domain.idempotency import RETENTION, purge_expired
from tenantry.settings import Settings
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.models import DomainEvent, IdempotencyRecord, Tenant
from tests.support.api import Account, bearer, create_organization, register, sign_in
from tests.support.clock import ShiftableClock
from tests.support.counts import count_rows
from tests.support.mailbox import Mailbox
from tests.support.server import running_server
from tests.support.tenancy import add_member

pytestmark = pytest.mark.integration


async def events_of(container: Container, event_type: str) -> list[dict[str, Any]]:
    async with container.db.read() as session:
        rows = await session.scalars(select(DomainEvent).where(DomainEvent.type == event_type))
        return [row.data for row in rows]


async def test_get_tenant_shows_plan_features_and_limits(
    client: httpx.AsyncClient, ann: Account
) -> None:
    response = await client.get("/v1/tenant", headers=ann.headers())
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == ann.tenant_id
    assert (body["kind"], body["plan"], body["status"], body["isolation"]) == (
        "personal",
        "free",
        "active",
        "pool",
    )
    assert body["limits"]["members"] == 5
    assert body["features"]["experiments"] is True
    assert body["profile"] == {}


async def test_feature_overrides_apply_over_the_plan(
    client: httpx.AsyncClient, container: Container, ann: Account
) -> None:
    async with container.db.transaction() as session:
        await session.execute(
            update(Tenant)
            .where(Tenant.id == uuid.UUID(ann.tenant_id))
            .values(feature_overrides={"webhooks": True})
        )
        await bump_access_epoch(session)
    features = (await client.get("/v1/tenant", headers=ann.headers())).json()["features"]
    assert (features["webhooks"], features["audit_log"]) == (True, False)


async def test_patch_merges_the_profile_and_renames(
    client: httpx.AsyncClient, container: Container, ann: Account
) -> None:
    tenant = await create_organization(client, ann, "Acme")
    first = await client.patch(
        "/v1/tenant",
        headers=ann.headers(tenant),
        json={"profile": {"company_name": "Acme Inc", "employee_count": 12, "country": "DE"}},
    )
    assert first.status_code == 200, first.text
    second = await client.patch(
        "/v1/tenant",
        headers=ann.headers(tenant),
        json={"name": "Acme GmbH", "profile": {"country": None, "website": "https://acme.test"}},
    )
    body = second.json()
    assert body["name"] == "Acme GmbH"
    assert body["profile"] == {
        "company_name": "Acme Inc",
        "employee_count": 12,
        "website": "https://acme.test/",
    }
    listed = (await client.get("/v1/tenants", headers=bearer(ann.access_token))).json()
    assert "Acme GmbH" in {item["name"] for item in listed["items"]}
    assert len(await events_of(container, "tenant.updated")) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"profile": {"employee_count": 0}},
        {"profile": {"country": "Germany"}},
        {"profile": {"website": "not a url"}},
        {"profile": {"unknown_field": "x"}},
        {"name": ""},
        {"profile": "text"},
    ],
)
async def test_bad_tenant_patch_is_422(
    client: httpx.AsyncClient, ann: Account, body: dict[str, Any]
) -> None:
    response = await client.patch("/v1/tenant", headers=ann.headers(), json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


@pytest.mark.parametrize(
    ("role", "method", "allowed"),
    [
        ("viewer", "GET", True),
        ("viewer", "PATCH", False),
        ("editor", "PATCH", False),
        ("admin", "PATCH", True),
        ("admin", "DELETE", False),
    ],
)
async def test_role_matrix_of_tenant_routes(
    client: httpx.AsyncClient,
    container: Container,
    ann: Account,
    bob: Account,
    role: str,
    method: str,
    allowed: bool,
) -> None:
    tenant = await create_organization(client, ann, "Acme")
    await add_member(container, tenant_id=tenant, user_id=bob.user_id, role=role)
    kwargs: dict[str, Any] = {"json": {"name": "Renamed"}} if method == "PATCH" else {}
    response = await client.request(method, "/v1/tenant", headers=bob.headers(tenant), **kwargs)
    if allowed:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 403
        assert response.json()["code"] == "insufficient_role"


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_tenant_routes_refuse_strangers_and_anonymous(
    client: httpx.AsyncClient, ann: Account, bob: Account, method: str
) -> None:
    kwargs: dict[str, Any] = {"json": {"name": "Mine now"}} if method == "PATCH" else {}
    foreign = await client.request(
        method, "/v1/tenant", headers=bob.headers(ann.tenant_id), **kwargs
    )
    anonymous = await client.request(
        method, "/v1/tenant", headers={"X-Tenant-ID": ann.tenant_id}, **kwargs
    )
    missing_header = await client.request(
        method, "/v1/tenant", headers=bearer(ann.access_token), **kwargs
    )
    assert (foreign.status_code, foreign.json()["code"]) == (403, "tenant_access_denied")
    assert anonymous.status_code == 401
    assert (missing_header.status_code, missing_header.json()["code"]) == (
        400,
        "tenant_header_required",
    )


@pytest.mark.catalogue(37)
async def test_disabled_tenant_answers_403_to_its_members(
    client: httpx.AsyncClient, container: Container, ann: Account
) -> None:
    assert (await client.get("/v1/tenant", headers=ann.headers())).status_code == 200
    async with container.db.transaction() as session:
        await session.execute(
            update(Tenant).where(Tenant.id == uuid.UUID(ann.tenant_id)).values(status="disabled")
        )
        await bump_access_epoch(session)
    response = await client.get("/v1/tenant", headers=ann.headers())
    assert (response.status_code, response.json()["code"]) == (403, "tenant_disabled")


async def test_personal_tenant_cannot_be_deleted(client: httpx.AsyncClient, ann: Account) -> None:
    response = await client.delete("/v1/tenant", headers=ann.headers())
    assert (response.status_code, response.json()["code"]) == (409, "personal_tenant")


async def test_deleting_a_tenant_removes_access_and_resets_default_tenants(
    client: httpx.AsyncClient, container: Container, ann: Account, bob: Account
) -> None:
    tenant = await create_organization(client, ann, "Acme")
    await add_member(container, tenant_id=tenant, user_id=bob.user_id, role="viewer")
    chosen = await client.patch(
        "/v1/me", headers=bearer(bob.access_token), json={"default_tenant_id": tenant}
    )
    assert chosen.status_code == 200
    assert (await client.get("/v1/tenant", headers=bob.headers(tenant))).status_code == 200

    response = await client.delete("/v1/tenant", headers=ann.headers(tenant))
    assert response.status_code == 204
    after = await client.get("/v1/tenant", headers=bob.headers(tenant))
    assert (after.status_code, after.json()["code"]) == (403, "tenant_access_denied")
    me = (await client.get("/v1/me", headers=bearer(bob.access_token))).json()
    assert me["default_tenant_id"] == bob.tenant_id
    assert tenant not in {m["tenant_id"] for m in me["memberships"]}
    assert await events_of(container, "tenant.deleted") == [{"tenant_id": tenant}]


async def test_plans_are_public(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/plans")
    assert response.status_code == 200
    plans = {plan["id"]: plan for plan in response.json()["items"]}
    assert list(plans) == ["free", "basic", "standard", "premium", "platinum"]
    assert (plans["premium"]["isolation"], plans["platinum"]["self_service"]) == ("silo", False)
    assert plans["platinum"]["limits"] == {}


async def test_a_plans_file_replaces_the_catalog(
    settings: Settings, clock: ShiftableClock, tmp_path: Any
) -> None:
    catalog = tmp_path / "plans.toml"
    catalog.write_text(
        '[plans.free]\nname = "Hobby"\nself_service = true\nlimits = { members = 2 }\n'
    )
    container = Container(settings.model_copy(update={"plans_file": catalog}), clock=clock)
    assert [(plan.id, plan.name) for plan in container.plans.all()] == [("free", "Hobby")]
    container.passwords.close()
    await container.http.aclose()
    await container.db.dispose()


# --- Idempotency-Key (SPEC §3) -----------------------------------------------------------


async def create_with_key(
    client: httpx.AsyncClient, account: Account, key: str, name: str = "Acme"
) -> httpx.Response:
    return await client.post(
        "/v1/tenants",
        headers={**bearer(account.access_token), "Idempotency-Key": key},
        json={"name": name},
    )


async def organization_count(container: Container) -> int:
    return await count_rows(container.db, Tenant, Tenant.kind == "organization")


@pytest.mark.catalogue(41)
async def test_same_key_and_body_replays_the_first_response(
    client: httpx.AsyncClient, container: Container, ann: Account
) -> None:
    first = await create_with_key(client, ann, "key-1")
    again = await create_with_key(client, ann, "key-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await organization_count(container) == 1


@pytest.mark.catalogue(41)
async def test_same_key_with_another_body_is_409(
    client: httpx.AsyncClient, container: Container, ann: Account
) -> None:
    await create_with_key(client, ann, "key-1")
    other = await create_with_key(client, ann, "key-1", name="Other")
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")
    assert await organization_count(container) == 1


@pytest.mark.catalogue(41)
async def test_keys_belong_to_their_user_and_expire_after_a_day(
    client: httpx.AsyncClient,
    container: Container,
    clock: ShiftableClock,
    ann: Account,
    bob: Account,
) -> None:
    assert timedelta(hours=24) == RETENTION
    first = await create_with_key(client, ann, "shared")
    assert (await create_with_key(client, bob, "shared")).status_code == 201

    clock.advance(RETENTION.total_seconds() - 60)  # still kept a minute before the day is up
    ann.access_token = (await sign_in(client, ann.email, ann.password)).access_token
    kept = await create_with_key(client, ann, "shared")
    assert (kept.status_code, kept.json()) == (201, first.json())
    assert kept.headers["idempotent-replayed"] == "true"
    other = await create_with_key(client, ann, "shared", name="Other")
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")

    clock.advance(61)
    fresh = await create_with_key(client, ann, "shared", name="Other")
    assert fresh.status_code == 201
    assert "idempotent-replayed" not in fresh.headers
    assert await organization_count(container) == 3


async def test_a_failed_request_does_not_burn_its_key(
    client: httpx.AsyncClient, container: Container, ann: Account
) -> None:
    invalid = await client.post(
        "/v1/tenants",
        headers={**bearer(ann.access_token), "Idempotency-Key": "k"},
        json={"name": ""},
    )
    assert invalid.status_code == 422
    assert (await create_with_key(client, ann, "k")).status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 256, "bad\x01key"])
async def test_malformed_keys_are_400(client: httpx.AsyncClient, ann: Account, key: str) -> None:
    response = await client.post(
        "/v1/tenants",
        headers=[
            ("Authorization", f"Bearer {ann.access_token}"),
            ("Idempotency-Key", key),
        ],
        json={"name": "Acme"},
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid_idempotency_key")


@pytest.fixture
async def http(container: Container, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    with running_server(settings) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            yield client


@pytest.mark.catalogue(41)
async def test_parallel_requests_with_one_key_create_once(
    http: httpx.AsyncClient, container: Container, mailbox: Mailbox
) -> None:
    ann = await register(http, mailbox, "ann@example.com")
    responses = await asyncio.gather(*(create_with_key(http, ann, "race") for _ in range(8)))
    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["id"] for response in responses}) == 1
    assert await organization_count(container) == 1


async def test_expired_records_are_purged(container: Container, ann: Account) -> None:
    now = container.clock.now()
    user_id = uuid.UUID(ann.user_id)
    async with container.db.transaction() as session:
        for key, age in (("old", RETENTION), ("new", RETENTION / 2)):
            await container.idempotency.claim_or_replay(
                session, user_id=user_id, key=key, fingerprint="f", now=now - age
            )
    async with container.db.transaction() as session:
        assert await purge_expired(session, now=now) == 1
    assert await count_rows(container.db, IdempotencyRecord) == 1


async def test_my_tenants_page_with_a_cursor(client: httpx.AsyncClient, ann: Account) -> None:
    for name in ("One", "Two", "Three"):
        await create_organization(client, ann, name)
    seen: list[str] = []
    cursor = ""
    while True:
        page = (
            await client.get(f"/v1/tenants?limit=2{cursor}", headers=bearer(ann.access_token))
        ).json()
        seen += [item["name"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == ["Ann's workspace", "One", "Two", "Three"]


async def test_stored_responses_are_sealed(
    client: httpx.AsyncClient, container: Container, ann: Account
) -> None:
    created = (await create_with_key(client, ann, "sealed", name="Sealed Name")).json()
    async with container.db.read() as session:
        sealed = await session.scalar(select(IdempotencyRecord.sealed_body))
    assert sealed is not None
    assert created["id"].encode() not in sealed
    assert b"Sealed Name" not in sealed
