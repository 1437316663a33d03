"""Idempotency keys of requests killed between claiming the key and storing the answer (SPEC §3,
the crash test's second finding): a retry gets 409 while the claim's lease may still be held,
then takes the claim over and answers with exactly one row, the one the killed request
committed if it got that far. The kill is reproduced by leaving behind what it leaves."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import update

from tenantry.bootstrap import Container
from tenantry.domain.idempotency import LEASE, Claim, StoredResponse
from tenantry.storage.models import IdempotencyRecord, Tenant
from tenantry.transports.rest.idempotency import CreateOnce
from tenantry.transports.rest.schemas.admin import AdminTenantCreate
from tenantry.transports.rest.schemas.experiments import ExperimentCreate
from tenantry.transports.rest.schemas.orders import OrderCreate
from tenantry.transports.rest.schemas.products import ProductCreate
from tests.support.api import Account, bearer
from tests.support.clock import ShiftableClock
from tests.support.counts import count_rows
from tests.support.routes import all_pages, assert_problem, create

pytestmark = pytest.mark.integration
KEY = "killed-mid-request"
PAST_THE_LEASE = LEASE.total_seconds() + 1
ADMIN_TENANTS = "/v1/admin/tenants"


@dataclass(frozen=True)
class Creation:
    path: str
    body: BaseModel
    tenant: str | None  # the X-Tenant-ID header the request carries


async def creation(
    kind: str, client: httpx.AsyncClient, account: Account, headers: dict[str, str]
) -> Creation:
    """A keyed creating request of a route that commits its work in the tenant's store."""
    if kind == "product":
        return Creation(
            "/v1/products",
            ProductCreate(name="Widget", price_cents=5, currency="EUR"),
            account.tenant_id,
        )
    if kind == "order":
        product = await create(
            client, "/v1/products", headers, name="Widget", price_cents=5, currency="EUR"
        )
        lines: Any = [{"product_id": product["id"], "quantity": 2}]
        return Creation("/v1/orders", OrderCreate(lines=lines), account.tenant_id)
    project = await create(client, "/v1/projects", headers, name="Lab")
    path = f"/v1/projects/{project['id']}/experiments"
    return Creation(path, ExperimentCreate(name="Pricing page"), account.tenant_id)


async def post(
    client: httpx.AsyncClient, headers: dict[str, str], made: Creation
) -> httpx.Response:
    keyed = headers | {"Idempotency-Key": KEY}
    return await client.post(made.path, headers=keyed, json=made.body.model_dump(mode="json"))


async def abandon_claim(container: Container, user_id: str, made: Creation) -> Claim:
    """What a request killed right after claiming its key leaves behind."""
    once = CreateOnce(
        records=container.idempotency,
        key=KEY,
        scope=("POST", made.path, made.tenant),
    )
    async with container.db.transaction() as session:
        claim = await container.idempotency.claim_or_replay(
            session,
            user_id=uuid.UUID(user_id),
            key=KEY,
            fingerprint=once.fingerprint(made.body),
            now=container.clock.now(),
        )
    assert isinstance(claim, Claim)
    return claim


async def forget_answer(container: Container) -> None:
    """What a request killed after its work committed, before its answer was stored, leaves."""
    async with container.db.transaction() as session:
        await session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.key == KEY)
            .values(status_code=None, sealed_body=None)
        )


async def ids_listed(client: httpx.AsyncClient, headers: dict[str, str], path: str) -> set[str]:
    return set(await all_pages(client, headers, path))


async def retry_past_the_lease(
    client: httpx.AsyncClient, clock: ShiftableClock, headers: dict[str, str], made: Creation
) -> httpx.Response:
    """A retry of a stranded claim: 409 while its lease may still be held, then taken over."""
    assert_problem(await post(client, headers, made), 409, "idempotency_key_in_progress")
    clock.advance(PAST_THE_LEASE)
    retried = await post(client, headers, made)
    assert retried.status_code == 201, retried.text
    return retried


KINDS = ["product", "order", "experiment"]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_claim_abandoned_before_the_work_is_taken_over_after_its_lease(
    client: httpx.AsyncClient,
    container: Container,
    clock: ShiftableClock,
    ann: Account,
    kind: str,
) -> None:
    headers = ann.headers()
    made = await creation(kind, client, ann, headers)
    before = await ids_listed(client, headers, made.path)
    await abandon_claim(container, ann.user_id, made)

    retried = await retry_past_the_lease(client, clock, headers, made)
    assert "Idempotent-Replayed" not in retried.headers
    again = await post(client, headers, made)
    assert (again.status_code, again.json()) == (201, retried.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await ids_listed(client, headers, made.path) == {*before, retried.json()["id"]}


@pytest.mark.parametrize("kind", KINDS)
async def test_a_retry_after_the_lease_answers_with_the_row_the_killed_request_committed(
    client: httpx.AsyncClient,
    container: Container,
    clock: ShiftableClock,
    ann: Account,
    kind: str,
) -> None:
    headers = ann.headers()
    made = await creation(kind, client, ann, headers)
    first = await post(client, headers, made)
    assert first.status_code == 201, first.text
    listed = await ids_listed(client, headers, made.path)
    await forget_answer(container)

    retried = await retry_past_the_lease(client, clock, headers, made)
    assert retried.json()["id"] == first.json()["id"]
    assert await ids_listed(client, headers, made.path) == listed  # no second row
    replayed = await post(client, headers, made)
    assert replayed.headers["Idempotent-Replayed"] == "true"


async def test_a_stranded_admin_tenant_key_is_taken_over_after_its_lease(
    client: httpx.AsyncClient, container: Container, clock: ShiftableClock, operator: Account
) -> None:
    """`POST /v1/admin/tenants` claims its key with the tenant's reservation: the recovery
    sweep deletes a killed run's reservation, and the lease frees its key."""
    body = AdminTenantCreate(name="Initech", plan="basic", owner_email="peter@example.com")
    made = Creation(ADMIN_TENANTS, body, None)
    await abandon_claim(container, operator.user_id, made)
    headers = bearer(operator.access_token)

    created = await retry_past_the_lease(client, clock, headers, made)
    replayed = await post(client, headers, made)
    assert replayed.json() == created.json()
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert await count_rows(container.db, Tenant, Tenant.name == "Initech") == 1


async def test_a_request_that_outlived_its_lease_can_neither_answer_nor_free_the_key(
    container: Container, clock: ShiftableClock, ann: Account
) -> None:
    made = Creation("/v1/products", ProductCreate(name="W", price_cents=1, currency="EUR"), None)
    slow = await abandon_claim(container, ann.user_id, made)
    clock.advance(PAST_THE_LEASE)
    retry = await abandon_claim(container, ann.user_id, made)
    assert retry.work_id == slow.work_id  # the retry finds what the slow request made
    records, user_id = container.idempotency, uuid.UUID(ann.user_id)
    async with container.db.transaction() as session:
        late = StoredResponse(201, {"from": "slow"})
        assert not await records.store_response(
            session, user_id=user_id, key=KEY, claim=slow, response=late
        )
        await records.release(session, user_id=user_id, key=KEY, claim=slow)
        assert await records.store_response(
            session, user_id=user_id, key=KEY, claim=retry, response=StoredResponse(201, {})
        )
    assert await count_rows(container.db, IdempotencyRecord) == 1
