"""HubSpot payment webhook (SPEC §8): deliveries signed exactly as HubSpot signs them (v3),
anything unsigned, stale or altered refused with nothing changed, and one paid tenant per
`eventId` however often, and however concurrently, it is delivered."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tenantry.bootstrap import Container
from tenantry.domain.provider import hubspot
from tenantry.settings import Settings
from tenantry.storage.models import DomainEvent, HubspotEvent, MailMessage, Membership, Tenant, User
from tenantry.transports.rest.app import create_app
from tests.support.api import PASSWORD, Account, bearer
from tests.support.clock import ShiftableClock
from tests.support.counts import count_rows
from tests.support.mailbox import Mailbox
from tests.support.routes import assert_problem

pytestmark = pytest.mark.integration

SECRET = "hubspot-client-secret"
PATH = "/v1/webhooks/hubspot"
URI = f"http://testserver{PATH}"  # the settings fixture's public_url + the route


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"hubspot_client_secret": SECRET})


def sign(
    body: bytes,
    *,
    secret: str = SECRET,
    uri: str = URI,
    timestamp_ms: int | None = None,
) -> dict[str, str]:
    """HubSpot's v3 headers: base64(HMAC-SHA256(secret, method + uri + body + timestamp))."""
    timestamp = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    message = b"POST" + uri.encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
        "X-HubSpot-Request-Timestamp": timestamp,
    }


def payment(event_id: str | int = "evt-1", **fields: Any) -> bytes:
    body = {
        "eventId": event_id,
        "email": "pat@example.com",
        "plan": "standard",
        "firstname": "Pat",
        "lastname": "Lee",
        **fields,
    }
    return json.dumps(body).encode()


async def deliver(client: httpx.AsyncClient, body: bytes, **signing: Any) -> httpx.Response:
    return await client.post(PATH, content=body, headers=sign(body, **signing))


async def census(container: Container) -> dict[str, int]:
    return {
        "users": await count_rows(container.db, User),
        "tenants": await count_rows(container.db, Tenant),
        "memberships": await count_rows(container.db, Membership),
        "claims": await count_rows(container.db, HubspotEvent),
        "mail": await count_rows(container.db, MailMessage),
    }


async def test_a_payment_makes_the_account_and_the_paid_tenant(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox
) -> None:
    response = await deliver(client, payment(company="Lee Widgets"))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {"user_id", "tenant_id"}
    user_id, tenant_id = uuid.UUID(answer["user_id"]), uuid.UUID(answer["tenant_id"])

    async with container.db.read() as session:
        user = await session.get(User, user_id)
        paid = await session.get(Tenant, tenant_id)
        personal = await session.scalar(select(Tenant).where(Tenant.personal_owner_id == user_id))
        role = await session.scalar(
            select(Membership.role).where(
                Membership.tenant_id == tenant_id, Membership.user_id == user_id
            )
        )
        kinds = list(await session.scalars(select(DomainEvent.type)))
    assert user is not None and paid is not None and personal is not None
    assert (user.email, user.name, user.email_verified) == ("pat@example.com", "Pat Lee", False)
    assert user.default_tenant_id == tenant_id
    assert (paid.name, paid.plan, paid.status, paid.kind, paid.isolation) == (
        "Lee Widgets",
        "standard",
        "active",
        "organization",
        "pool",
    )
    assert role == "owner"
    assert kinds.count("billing.payment_received") == 1

    code = await mailbox.code_for("pat@example.com")
    confirmed = await client.post(
        "/v1/auth/confirm", json={"email": "pat@example.com", "code": code, "password": PASSWORD}
    )
    assert confirmed.status_code == 200, confirmed.text
    me = (await client.get("/v1/me", headers=bearer(confirmed.json()["access_token"]))).json()
    assert me["email_verified"] is True
    assert me["default_tenant_id"] == str(tenant_id)
    tenants = {m["tenant_id"]: (m["tenant_kind"], m["role"]) for m in me["memberships"]}
    assert tenants == {
        str(tenant_id): ("organization", "owner"),
        str(personal.id): ("personal", "owner"),
    }


async def test_the_tenant_is_named_after_the_payer_without_a_company(
    client: httpx.AsyncClient, container: Container
) -> None:
    named = await deliver(client, payment("evt-a"))
    anonymous = await deliver(
        client, payment("evt-b", email="kim@example.com", firstname=None, lastname=None)
    )
    names = []
    for response in (named, anonymous):
        assert response.status_code == 200, response.text
        async with container.db.read() as session:
            tenant = await session.get(Tenant, uuid.UUID(response.json()["tenant_id"]))
        assert tenant is not None
        names.append(tenant.name)
    assert names == ["Pat Lee's team", "kim's team"]


@pytest.mark.catalogue(36)
async def test_a_replayed_event_gets_the_same_answer_and_creates_nothing(
    client: httpx.AsyncClient, container: Container
) -> None:
    first = await deliver(client, payment(4711))
    assert first.status_code == 200, first.text
    before = await census(container)
    again = await deliver(client, payment(4711))  # signed afresh, as HubSpot's retries are
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert await census(container) == before
    async with container.db.read() as session:
        claim = await session.get(HubspotEvent, "4711")
    assert claim is not None and str(claim.tenant_id) == first.json()["tenant_id"]


@pytest.mark.catalogue(36)
async def test_a_replayed_request_and_a_later_redelivery_get_the_first_answer(
    client: httpx.AsyncClient, container: Container, clock: ShiftableClock
) -> None:
    body = payment("evt-replay")
    headers = sign(body, timestamp_ms=int(clock.now().timestamp() * 1000))
    first = await client.post(PATH, content=body, headers=headers)
    assert first.status_code == 200, first.text
    before = await census(container)

    replayed = await client.post(PATH, content=body, headers=headers)  # byte for byte
    clock.advance(3 * 24 * 3600)  # HubSpot retries for up to three days
    redelivered = await client.post(
        PATH, content=body, headers=sign(body, timestamp_ms=int(clock.now().timestamp() * 1000))
    )

    for again in (replayed, redelivered):
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
    assert await census(container) == before


def legacy_signature(body: bytes, version: str) -> dict[str, str]:
    """HubSpot's older schemes, hex(SHA-256(secret + body)) for v1 and
    hex(SHA-256(secret + method + uri + body)) for v2: valid, but not what we accept."""
    signed = SECRET.encode() + (b"" if version == "v1" else b"POST" + URI.encode()) + body
    return {
        "Content-Type": "application/json",
        "X-HubSpot-Signature": hashlib.sha256(signed).hexdigest(),
        "X-HubSpot-Signature-Version": version,
    }


def reserialized(body: bytes) -> bytes:
    """The same JSON document written another way (no spaces, keys sorted)."""
    return json.dumps(json.loads(body), separators=(",", ":"), sort_keys=True).encode()


FIVE_MINUTES_MS = 5 * 60 * 1000
# What was sent instead of a good delivery of `body` signed at `now_ms`: headers, body and the
# code of the refusal.
Tampering = tuple[dict[str, str], bytes, str]
TAMPERINGS: dict[str, Callable[[bytes, int], Tampering]] = {
    "no_headers": lambda body, _: ({"Content-Type": "application/json"}, body, "missing_signature"),
    "v1_only": lambda body, _: (legacy_signature(body, "v1"), body, "missing_signature"),
    "v2_only": lambda body, _: (legacy_signature(body, "v2"), body, "missing_signature"),
    "v1_and_v2_only": lambda body, _: (
        {**legacy_signature(body, "v1"), **legacy_signature(body, "v2")},
        body,
        "missing_signature",
    ),
    "timestamp_only": lambda body, now_ms: (
        {"X-HubSpot-Request-Timestamp": str(now_ms)},
        body,
        "missing_signature",
    ),
    "wrong_secret": lambda body, _: (
        sign(body, secret="not-the-secret"),
        body,
        "invalid_signature",
    ),
    "garbage_signature": lambda body, _: (
        {**sign(body), "X-HubSpot-Signature-v3": "not a signature!"},
        body,
        "invalid_signature",
    ),
    "v2_value_in_v3_header": lambda body, _: (
        {
            **sign(body),
            "X-HubSpot-Signature-v3": legacy_signature(body, "v2")["X-HubSpot-Signature"],
        },
        body,
        "invalid_signature",
    ),
    "one_byte_changed": lambda body, _: (
        sign(body),
        body.replace(b"standard", b"standarD"),
        "invalid_signature",
    ),
    "byte_appended": lambda body, _: (sign(body), body + b" ", "invalid_signature"),
    "reserialized": lambda body, _: (sign(body), reserialized(body), "invalid_signature"),
    "other_uri": lambda body, _: (sign(body, uri=f"{URI}/elsewhere"), body, "invalid_signature"),
    "five_minutes_and_a_second_old": lambda body, now_ms: (
        sign(body, timestamp_ms=now_ms - FIVE_MINUTES_MS - 1000),
        body,
        "stale_request",
    ),
    "five_minutes_and_a_second_ahead": lambda body, now_ms: (
        sign(body, timestamp_ms=now_ms + FIVE_MINUTES_MS + 1000),
        body,
        "stale_request",
    ),
    "a_day_old": lambda body, now_ms: (
        sign(body, timestamp_ms=now_ms - 86_400_000),
        body,
        "stale_request",
    ),
}


@pytest.mark.catalogue(33, 34, 35)
@pytest.mark.parametrize("tamper", TAMPERINGS)
async def test_an_unauthentic_delivery_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, container: Container, tamper: str
) -> None:
    headers, body, code = TAMPERINGS[tamper](payment(), int(time.time() * 1000))
    before = await census(container)
    assert_problem(await client.post(PATH, content=body, headers=headers), 401, code)
    assert await census(container) == before


@pytest.mark.catalogue(34)
@pytest.mark.parametrize("skew_ms", [-4 * 60 * 1000, 4 * 60 * 1000])
async def test_a_delivery_signed_within_five_minutes_is_accepted(
    client: httpx.AsyncClient, skew_ms: int
) -> None:
    response = await deliver(client, payment(), timestamp_ms=int(time.time() * 1000) + skew_ms)
    assert response.status_code == 200, response.text


@pytest.mark.catalogue(34)
async def test_a_garbled_timestamp_is_refused(
    client: httpx.AsyncClient, container: Container
) -> None:
    body = payment()
    headers = {**sign(body), "X-HubSpot-Request-Timestamp": "soon"}
    before = await census(container)
    assert_problem(await client.post(PATH, content=body, headers=headers), 401, "invalid_timestamp")
    assert await census(container) == before


async def test_the_uri_is_signed_with_hubspots_decoded_characters(
    client: httpx.AsyncClient,
) -> None:
    body = payment()
    query = "portal=a%3Ab%2Cc%20d"
    signed = sign(body, uri=f"{URI}?portal=a:b,c%20d")  # %3A and %2C decoded; %20 kept
    response = await client.post(f"{PATH}?{query}", content=body, headers=signed)
    assert response.status_code == 200, response.text
    as_sent = sign(body, uri=f"{URI}?{query}")
    assert_problem(
        await client.post(f"{PATH}?{query}", content=body, headers=as_sent),
        401,
        "invalid_signature",
    )


async def test_without_a_client_secret_the_webhook_is_unavailable(
    settings: Settings, clock: ShiftableClock
) -> None:
    unconfigured = Container(
        settings.model_copy(update={"hubspot_client_secret": None}), clock=clock
    )
    await unconfigured.start(migrate=False, workers=False)
    transport = httpx.ASGITransport(app=create_app(unconfigured))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            assert_problem(await deliver(client, payment()), 503, "hubspot_not_configured")
            response = await client.post(PATH, content=payment())
            assert_problem(response, 503, "hubspot_not_configured")
    finally:
        await unconfigured.stop()


async def test_an_unknown_plan_is_refused(client: httpx.AsyncClient, container: Container) -> None:
    before = await census(container)
    assert_problem(await deliver(client, payment(plan="gold")), 422, "unknown_plan")
    assert await census(container) == before


@pytest.mark.parametrize(
    "body",
    [
        b'{"email": "pat@example.com", "plan": "standard"}',
        b'{"eventId": "e", "email": "not an address", "plan": "standard"}',
        b'{"eventId": "", "email": "pat@example.com", "plan": "standard"}',
        b'{"eventId": 1.5, "email": "pat@example.com", "plan": "standard"}',
        b'{"eventId": true, "email": "pat@example.com", "plan": "standard"}',
        b'{"eventId": "e", "email": "pat@example.com"}',
        b'["eventId", "e"]',
    ],
)
async def test_an_invalid_payload_is_refused(
    client: httpx.AsyncClient, container: Container, body: bytes
) -> None:
    before = await census(container)
    assert_problem(await deliver(client, body), 422, "validation_error")
    assert await census(container) == before


async def test_a_body_that_is_not_json_is_malformed(client: httpx.AsyncClient) -> None:
    assert_problem(await deliver(client, b"eventId=1"), 400, "malformed_request")


async def test_an_existing_user_gets_the_tenant_as_default_without_a_code(
    client: httpx.AsyncClient, container: Container, ann: Account
) -> None:
    mail_before = await count_rows(container.db, MailMessage)
    response = await deliver(client, payment(email="ANN@example.com", firstname="Someone"))
    assert response.status_code == 200, response.text
    assert response.json()["user_id"] == ann.user_id
    tenant_id = response.json()["tenant_id"]
    assert await count_rows(container.db, MailMessage) == mail_before
    me = (await client.get("/v1/me", headers=bearer(ann.access_token))).json()
    assert me["name"] == "Ann"
    assert me["default_tenant_id"] == tenant_id
    roles = {m["tenant_id"]: m["role"] for m in me["memberships"]}
    assert roles == {ann.tenant_id: "owner", tenant_id: "owner"}


async def test_a_silo_plan_gets_its_own_database(
    client: httpx.AsyncClient, container: Container
) -> None:
    response = await deliver(client, payment(plan="platinum"))
    assert response.status_code == 200, response.text
    tenant_id = uuid.UUID(response.json()["tenant_id"])
    async with container.db.read() as session:
        tenant = await session.get(Tenant, tenant_id)
    assert tenant is not None and tenant.isolation == "silo" and tenant.status == "active"
    assert await container.stores.silos.exists(tenant_id)


@pytest.mark.catalogue(36)
async def test_concurrent_duplicates_provision_one_tenant(
    client: httpx.AsyncClient, container: Container
) -> None:
    body = payment("evt-race")
    responses = await asyncio.gather(*(deliver(client, body) for _ in range(5)))
    assert [r.status_code for r in responses] == [200] * 5, [r.text for r in responses]
    assert len({r.text for r in responses}) == 1
    assert await count_rows(container.db, Tenant, Tenant.kind == "organization") == 1
    assert await count_rows(container.db, User) == 1
    assert await count_rows(container.db, HubspotEvent) == 1


@pytest.mark.parametrize("step", ["reserve", "store", "activate"])
async def test_a_failed_provisioning_leaves_nothing_and_a_retry_succeeds(
    client: httpx.AsyncClient, container: Container, step: str
) -> None:
    before = await census(container)
    container.faults.armed = f"provisioning.{step}"
    body = payment("evt-fail", plan="premium")
    failed = await deliver(client, body)
    assert_problem(failed, 503, "provisioning_failed")
    assert step in failed.json()["detail"]
    assert await census(container) == before
    container.faults.armed = None
    retried = await deliver(client, body)
    assert retried.status_code == 200, retried.text
    assert await container.stores.silos.exists(uuid.UUID(retried.json()["tenant_id"]))


async def test_a_claim_left_by_a_dead_run_is_taken_over(
    client: httpx.AsyncClient, container: Container
) -> None:
    await _leave_claim(container, "evt-dead", tenant_id=uuid.uuid4())  # its tenant is gone
    response = await deliver(client, payment("evt-dead"))
    assert response.status_code == 200, response.text
    async with container.db.read() as session:
        claim = await session.get(HubspotEvent, "evt-dead")
    assert claim is not None and str(claim.tenant_id) == response.json()["tenant_id"]
    assert await count_rows(container.db, Tenant, Tenant.kind == "organization") == 1


async def test_a_claim_still_in_progress_answers_409_with_retry_after(
    client: httpx.AsyncClient,
    container: Container,
    ann: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hubspot, "ANSWER_WAIT_SECONDS", 0.3)
    # A live run's claim: its tenant exists, its answer is not written yet.
    await _leave_claim(container, "evt-busy", tenant_id=uuid.UUID(ann.tenant_id))
    before = await census(container)
    response = await deliver(client, payment("evt-busy"))
    assert_problem(response, 409, "webhook_in_progress")
    assert int(response.headers["Retry-After"]) > 0
    assert await census(container) == before


async def _leave_claim(container: Container, event_id: str, *, tenant_id: uuid.UUID) -> None:
    async with container.db.transaction() as session:
        session.add(
            HubspotEvent(
                event_id=event_id, user_id=None, tenant_id=tenant_id, created_at=datetime.now(UTC)
            )
        )
