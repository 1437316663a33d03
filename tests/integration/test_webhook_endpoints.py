"""Outgoing webhooks (SPEC §9): endpoints, Standard Webhooks deliveries to a real receiver on
loopback, retries, ordering, tenant isolation, and the SSRF guard."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from tenantry.adapters.webhook_http import WebhookSender, new_http_client
from tenantry.bootstrap import Container
from tenantry.domain.events.outbox import Event, record_events
from tenantry.domain.webhooks.dispatcher import FAN_OUT_BATCH
from tenantry.domain.webhooks.endpoints import EndpointScope
from tenantry.settings import Settings
from tenantry.storage.models import DomainEvent, WebhookDelivery, WebhookEndpoint
from tenantry.transports.rest.app import create_app
from tests.support.api import Account, bearer, register, sign_in
from tests.support.clock import ShiftableClock
from tests.support.mailbox import Mailbox
from tests.support.plans import override_features, put_on_plan, register_on_plan
from tests.support.receiver import Received, Receiver
from tests.support.server import settings_environment
from tests.support.tenancy import add_member
from tests.support.tls import issue_localhost_certificate

pytestmark = pytest.mark.integration

HOOKS = "/v1/webhook-endpoints"
ADMIN_HOOKS = "/v1/admin/webhook-endpoints"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook_allow_private": True})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def ann(client: httpx.AsyncClient, mailbox: Mailbox, operator: Account) -> Account:
    """Ann's workspace is on Basic, the cheapest plan with webhooks."""
    account = await register(client, mailbox, "ann@example.com")
    await put_on_plan(client, operator, account.tenant_id, "basic")
    return account


@pytest.fixture
async def bob(client: httpx.AsyncClient, mailbox: Mailbox, operator: Account) -> Account:
    account = await register(client, mailbox, "bob@example.com")
    await put_on_plan(client, operator, account.tenant_id, "basic")
    return account


async def subscribe(
    client: httpx.AsyncClient, account: Account, url: str, events: list[str] | None = None
) -> dict[str, Any]:
    response = await client.post(
        HOOKS, headers=account.headers(), json={"url": url, "events": events or ["*"]}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_project(client: httpx.AsyncClient, account: Account, name: str) -> str:
    response = await client.post("/v1/projects", headers=account.headers(), json={"name": name})
    assert response.status_code == 201, response.text
    project_id: str = response.json()["id"]
    return project_id


async def rename_tenant(client: httpx.AsyncClient, account: Account, name: str) -> None:
    """A `tenant.updated` event carrying `name` (projects would hit the free plan's limit)."""
    response = await client.patch("/v1/tenant", headers=account.headers(), json={"name": name})
    assert response.status_code == 200, response.text


def verified(secret: str, received: Received) -> Any:
    """The payload, after the reference library has checked its signature and timestamp."""
    return Webhook(secret).verify(received.body, received.headers)


def of_type(received: list[Received], event_type: str) -> list[Received]:
    return [item for item in received if item.payload["type"] == event_type]


async def deliveries(
    client: httpx.AsyncClient, account: Account, endpoint_id: str
) -> list[dict[str, Any]]:
    response = await client.get(f"{HOOKS}/{endpoint_id}/deliveries", headers=account.headers())
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def settle(container: Container) -> None:
    """Run the dispatcher until nothing is due, then wait out the work the background
    dispatcher (which runs too; both are safe together) has in flight: events it is fanning
    out (skipped, locked, by ours on PostgreSQL) and attempts it has leased. Settled means
    quiet twice, a moment apart: the background dispatcher commits a fan-out and leases what
    it wrote in two transactions, and a look between them sees neither."""
    quiet_looks = 0
    while quiet_looks < 2:
        if await container.webhook_dispatcher.run_once():
            quiet_looks = 0
            continue
        async with container.db.read() as session:
            leased = await session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.lease_until > container.clock.now(),
                )
            )
            fanning_out = await session.scalar(
                select(func.count())
                .select_from(DomainEvent)
                .where(DomainEvent.dispatched_at.is_(None))
            )
        quiet_looks = quiet_looks + 1 if not leased and not fanning_out else 0
        await asyncio.sleep(0.05)


async def test_a_delivery_is_signed_per_standard_webhooks(
    client: httpx.AsyncClient, container: Container, ann: Account, receiver: Receiver
) -> None:
    endpoint = await subscribe(client, ann, receiver.url())
    assert endpoint["secret"].startswith("whsec_")
    project_id = await create_project(client, ann, "Hooked")
    await settle(container)
    received_all = await receiver.wait_for(3)
    # One transaction's events arrive in the order it wrote them.
    assert [item.payload["type"] for item in received_all] == [
        "project.created",
        "environment.created",
        "environment.created",
    ]
    received = received_all[0]
    payload = verified(endpoint["secret"], received)
    assert payload["type"] == "project.created"
    assert payload["tenant_id"] == ann.tenant_id
    assert payload["data"]["project_id"] == project_id
    assert payload["timestamp"].endswith("Z")
    assert received.headers["webhook-id"].startswith("msg_")
    with pytest.raises(Exception, match="signature"):
        Webhook(endpoint["secret"]).verify(received.body + b" ", received.headers)


async def test_the_secret_is_shown_once_and_sealed_at_rest(
    client: httpx.AsyncClient, container: Container, ann: Account, receiver: Receiver
) -> None:
    endpoint = await subscribe(client, ann, receiver.url(), ["project.created"])
    listed = (await client.get(HOOKS, headers=ann.headers())).json()["items"]
    got = (await client.get(f"{HOOKS}/{endpoint['id']}", headers=ann.headers())).json()
    assert [item["id"] for item in listed] == [endpoint["id"]]
    assert "secret" not in listed[0] and "secret" not in got
    assert got["events"] == ["project.created"] and got["status"] == "active"
    async with container.db.read() as session:
        sealed = await session.scalar(select(WebhookEndpoint.secret_sealed))
    assert sealed is not None
    assert endpoint["secret"].encode() not in sealed
    assert endpoint["secret"].removeprefix("whsec_").encode() not in sealed


async def test_a_503_is_retried_and_every_attempt_is_recorded(
    client: httpx.AsyncClient,
    container: Container,
    clock: ShiftableClock,
    ann: Account,
    receiver: Receiver,
) -> None:
    endpoint = await subscribe(client, ann, receiver.url(), ["project.created"])
    receiver.answer(503)
    await create_project(client, ann, "Flaky")
    await settle(container)
    await receiver.wait_for(1)
    [pending] = await deliveries(client, ann, endpoint["id"])
    assert pending["status"] == "pending" and pending["attempt_count"] == 1
    assert pending["attempts"][0]["status_code"] == 503
    assert pending["attempts"][0]["response_excerpt"] == "answered 503"
    assert datetime.fromisoformat(pending["next_attempt_at"]) > clock.now()
    clock.advance(10)  # the first retry comes within 10 seconds
    await settle(container)
    first, second = await receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    [done] = await deliveries(client, ann, endpoint["id"])
    assert done["status"] == "delivered" and done["attempt_count"] == 2
    assert [attempt["status_code"] for attempt in done["attempts"]] == [200, 503]
    assert all(attempt["latency_ms"] >= 0 for attempt in done["attempts"])


async def test_deliveries_keep_event_order_per_tenant_even_across_a_retry(
    client: httpx.AsyncClient,
    container: Container,
    clock: ShiftableClock,
    ann: Account,
    receiver: Receiver,
) -> None:
    await subscribe(client, ann, receiver.url(), ["tenant.updated"])
    receiver.answer(500)
    names = [f"Name {number}" for number in range(6)]
    for name in names:
        await rename_tenant(client, ann, name)
    await settle(container)
    await receiver.wait_for(1)
    await asyncio.sleep(0.2)
    assert len(receiver.received) == 1  # the queue waits for its head
    clock.advance(10)
    await settle(container)
    received = await receiver.wait_for(len(names) + 1)
    delivered = [item.payload["data"]["name"] for item in received[1:]]
    assert delivered == names


async def test_a_tenant_endpoint_gets_only_its_tenant_events(
    client: httpx.AsyncClient, container: Container, ann: Account, bob: Account
) -> None:
    ann_hooks, bob_hooks = Receiver(), Receiver()
    ann_hooks.start()
    bob_hooks.start()
    try:
        await subscribe(client, ann, ann_hooks.url())
        await subscribe(client, bob, bob_hooks.url())
        await create_project(client, ann, "Ann's")
        await create_project(client, bob, "Bob's")
        await create_project(client, ann, "Ann's second")
        await settle(container)
        await ann_hooks.wait_for(2)
        await bob_hooks.wait_for(1)
        await asyncio.sleep(0.2)
        ann_got, bob_got = ann_hooks.received, bob_hooks.received
    finally:
        ann_hooks.stop()
        bob_hooks.stop()
    assert {item.payload["tenant_id"] for item in ann_got} == {ann.tenant_id}
    assert {item.payload["tenant_id"] for item in bob_got} == {bob.tenant_id}
    assert [item.payload["data"]["name"] for item in of_type(ann_got, "project.created")] == [
        "Ann's",
        "Ann's second",
    ]


async def test_a_slow_receiver_does_not_hold_up_other_endpoints(
    client: httpx.AsyncClient, ann: Account, receiver: Receiver
) -> None:
    slow = Receiver()
    slow.delay = 4.0
    slow.start()
    try:
        await subscribe(client, ann, slow.url(), ["tenant.updated"])
        await subscribe(client, ann, receiver.url(), ["tenant.updated"])
        await rename_tenant(client, ann, "First")
        await receiver.wait_for(1, within=3)
        await rename_tenant(client, ann, "Second")
        # Both arrive while the slow receiver still sits on the first delivery.
        received = await receiver.wait_for(2, within=3)
        assert [item.payload["data"]["name"] for item in received] == ["First", "Second"]
        assert len(slow.received) == 1
        await slow.wait_for(2, within=15)
    finally:
        slow.stop()


async def test_event_filters_choose_what_is_delivered(
    client: httpx.AsyncClient, container: Container, ann: Account, receiver: Receiver
) -> None:
    await subscribe(client, ann, receiver.url("/only-deletes"), ["project.deleted"])
    project_id = await create_project(client, ann, "Short-lived")
    deleted = await client.delete(f"/v1/projects/{project_id}", headers=ann.headers())
    assert deleted.status_code == 204
    await settle(container)
    [received] = await receiver.wait_for(1)
    await asyncio.sleep(0.2)
    assert len(receiver.received) == 1
    assert received.payload["type"] == "project.deleted"


@pytest.mark.catalogue(39)
async def test_unknown_event_types_and_bad_urls_are_refused(
    client: httpx.AsyncClient, ann: Account, receiver: Receiver
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"url": receiver.url(), "events": ["project.exploded"]}, "unknown_event_type"),
        ({"url": "file:///etc/passwd", "events": ["*"]}, "webhook_url_forbidden"),
        ({"url": "ftp://example.com/hook", "events": ["*"]}, "webhook_url_forbidden"),
        ({"url": "http://user:pw@127.0.0.1/", "events": ["*"]}, "webhook_url_forbidden"),
        ({"url": "not a url", "events": ["*"]}, "webhook_url_forbidden"),
        ({"url": "http://no-such-host.invalid/", "events": ["*"]}, "webhook_url_forbidden"),
    ]
    for body, code in cases:
        response = await client.post(HOOKS, headers=ann.headers(), json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == code, body
    empty = await client.post(HOOKS, headers=ann.headers(), json={"url": receiver.url()})
    assert empty.status_code == 422


async def test_after_24_hours_of_failures_the_endpoint_is_failing_until_a_redelivery(
    client: httpx.AsyncClient,
    container: Container,
    clock: ShiftableClock,
    ann: Account,
    receiver: Receiver,
) -> None:
    endpoint = await subscribe(client, ann, receiver.url(), ["project.created"])
    receiver.always = 503
    await create_project(client, ann, "Doomed")
    await settle(container)
    for _ in range(40):
        clock.advance(3600)
        await settle(container)
    ann = await sign_in(client, ann.email, ann.password)
    [failed] = await deliveries(client, ann, endpoint["id"])
    assert failed["status"] == "failed"
    assert 10 <= failed["attempt_count"] <= 40
    got = (await client.get(f"{HOOKS}/{endpoint['id']}", headers=ann.headers())).json()
    assert got["status"] == "failing" and got["failing_since"] is not None

    receiver.always = None
    redelivered = await client.post(
        f"{HOOKS}/{endpoint['id']}/deliveries/{failed['id']}/redeliver", headers=ann.headers()
    )
    assert redelivered.status_code == 202, redelivered.text
    await settle(container)
    [done] = await deliveries(client, ann, endpoint["id"])
    assert done["status"] == "delivered"
    got = (await client.get(f"{HOOKS}/{endpoint['id']}", headers=ann.headers())).json()
    assert got["status"] == "active" and got["failing_since"] is None


@pytest.mark.catalogue(39)
async def test_redirects_are_not_followed(
    client: httpx.AsyncClient, container: Container, ann: Account, receiver: Receiver
) -> None:
    endpoint = await subscribe(client, ann, receiver.url(), ["project.created"])
    receiver.location = "http://169.254.169.254/latest/meta-data/"
    receiver.answer(302)
    await create_project(client, ann, "Redirected")
    await settle(container)
    await receiver.wait_for(1)
    [pending] = await deliveries(client, ann, endpoint["id"])
    assert pending["status"] == "pending"
    assert pending["attempts"][0]["status_code"] == 302
    assert len(receiver.received) == 1


@pytest.mark.catalogue(24)
async def test_webhook_routes_need_a_tenant_admin(
    client: httpx.AsyncClient, container: Container, ann: Account, bob: Account, receiver: Receiver
) -> None:
    endpoint = await subscribe(client, ann, receiver.url())
    routes = [
        ("POST", HOOKS, {"url": receiver.url(), "events": ["*"]}),
        ("GET", HOOKS, None),
        ("GET", f"{HOOKS}/{endpoint['id']}", None),
        ("GET", f"{HOOKS}/{endpoint['id']}/deliveries", None),
        ("POST", f"{HOOKS}/{endpoint['id']}/deliveries/{uuid.uuid4()}/redeliver", None),
        ("DELETE", f"{HOOKS}/{endpoint['id']}", None),
    ]
    await add_member(container, tenant_id=ann.tenant_id, user_id=bob.user_id, role="editor")
    for method, path, body in routes:
        anonymous = await client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path)
        foreign = await client.request(
            method, path, json=body, headers=bob.headers(str(uuid.uuid4()))
        )
        assert foreign.json()["code"] == "tenant_access_denied", (method, path)
        editor = await client.request(method, path, json=body, headers=bob.headers(ann.tenant_id))
        assert editor.status_code == 403, (method, path)
        assert editor.json()["code"] == "insufficient_role"
    # Bob administers his own tenant, where Ann's endpoint does not exist.
    for method, path, _body in routes[2:]:
        other = await client.request(method, path, headers=bob.headers())
        assert other.status_code == 404, (method, path, other.text)
    gone = await client.delete(f"{HOOKS}/{endpoint['id']}", headers=ann.headers())
    assert gone.status_code == 204
    again = await client.get(f"{HOOKS}/{endpoint['id']}", headers=ann.headers())
    assert again.status_code == 404


async def test_a_platform_endpoint_receives_every_tenant_events(
    client: httpx.AsyncClient,
    container: Container,
    ann: Account,
    bob: Account,
    receiver: Receiver,
    operator: Account,
) -> None:
    admin = bearer(operator.access_token)
    created = await client.post(
        ADMIN_HOOKS, headers=admin, json={"url": receiver.url(), "events": ["project.created"]}
    )
    assert created.status_code == 201, created.text
    assert created.json()["tenant_id"] is None
    tenant_owned = await subscribe(client, ann, receiver.url("/ann"), ["project.created"])
    await create_project(client, ann, "From Ann")
    await create_project(client, bob, "From Bob")
    await settle(container)
    received = await receiver.wait_for(3)
    platform = [item for item in received if item.path == "/hook"]
    assert {item.payload["tenant_id"] for item in platform} == {ann.tenant_id, bob.tenant_id}
    listed = (await client.get(ADMIN_HOOKS, headers=admin)).json()["items"]
    assert {item["id"] for item in listed} == {created.json()["id"], tenant_owned["id"]}
    refused = await client.get(ADMIN_HOOKS, headers=ann.headers())
    assert refused.json()["code"] == "platform_admin_required"
    unknown = await client.post(
        ADMIN_HOOKS,
        headers=admin,
        json={"url": receiver.url(), "events": ["*"], "tenant_id": str(uuid.uuid4())},
    )
    assert unknown.json()["code"] == "unknown_tenant"


async def test_two_dispatchers_deliver_each_event_once(
    settings: Settings,
    client: httpx.AsyncClient,
    container: Container,
    clock: ShiftableClock,
    ann: Account,
    receiver: Receiver,
) -> None:
    """A second process on the same database: claims keep them from sending twice."""
    await subscribe(client, ann, receiver.url(), ["tenant.updated"])
    other = Container(settings, clock=clock)
    await other.start(migrate=False, workers=False)
    try:
        await asyncio.gather(*(rename_tenant(client, ann, f"Name {n}") for n in range(20)))
        await asyncio.gather(settle(container), settle(other), settle(container), settle(other))
        received = await receiver.wait_for(20)
        await asyncio.sleep(0.3)
    finally:
        await other.stop()
    ids = [item.headers["webhook-id"] for item in receiver.received]
    assert len(ids) == len(set(ids)) == 20
    assert len(received) == 20


@pytest.mark.catalogue(41)
async def test_the_same_idempotency_key_creates_one_endpoint(
    client: httpx.AsyncClient, ann: Account, receiver: Receiver
) -> None:
    body = {"url": receiver.url(), "events": ["*"]}
    headers = {**ann.headers(), "Idempotency-Key": "hook-1"}
    first = await client.post(HOOKS, headers=headers, json=body)
    second = await client.post(HOOKS, headers=headers, json=body)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    listed = (await client.get(HOOKS, headers=ann.headers())).json()["items"]
    assert len(listed) == 1


@pytest.fixture
async def guarded(
    settings: Settings, clock: ShiftableClock
) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    """A server with the default SSRF guard (private targets refused)."""
    container = Container(settings.model_copy(update={"webhook_allow_private": False}), clock=clock)
    await container.start(migrate=False)
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield container, client
    await container.stop()


# IPv6 forms that lead to a private IPv4 address, or that cannot be checked (issue 18 item 7).
EMBEDDED_PRIVATE = [
    "64:ff9b::169.254.169.254",  # well-known NAT64 prefix
    "64:ff9b::10.0.0.7",
    "64:ff9b:1::a9fe:a9fe",  # local-use NAT64: its prefix length cannot be known
    "::127.0.0.1",  # IPv4-compatible
    "::ffff:0:127.0.0.1",  # IPv4-translated
    "::ffff:169.254.169.254",  # IPv4-mapped
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "fec0::1",  # site-local
    "5f00::1",  # outside 2000::/3
]


@pytest.mark.catalogue(39)
@pytest.mark.parametrize(
    "url",
    [
        *(f"http://[{address}]/hook" for address in EMBEDDED_PRIVATE),
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/hook",
        "http://172.16.0.1/hook",
        "http://192.168.1.1/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://224.0.0.1/hook",
        "http://2130706433/hook",
    ],
)
async def test_private_and_metadata_targets_are_refused(
    guarded: tuple[Container, httpx.AsyncClient], mailbox: Mailbox, url: str
) -> None:
    container, client = guarded
    owner = await register_on_plan(container, client, mailbox, "guarded@example.com", "basic")
    response = await client.post(HOOKS, headers=owner.headers(), json={"url": url, "events": ["*"]})
    assert response.status_code == 422, (url, response.text)
    assert response.json()["code"] == "webhook_url_forbidden"


@pytest.mark.parametrize(
    "address", ["64:ff9b::8.8.8.8", "2002:808:808::1", "::ffff:8.8.8.8", "2606:4700::1111"]
)
async def test_public_addresses_in_ipv6_forms_are_accepted(
    guarded: tuple[Container, httpx.AsyncClient], mailbox: Mailbox, address: str
) -> None:
    container, client = guarded
    owner = await register_on_plan(container, client, mailbox, "guarded@example.com", "basic")
    await subscribe(client, owner, f"http://[{address}]/hook")


class Dns:
    """Name lookups for `*.rebind.test` answered from `records` (a DNS answer cannot be changed
    for real from a test); every other name goes to the system resolver."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.records: dict[str, list[str]] = {}
        self._system = loop.getaddrinfo

    async def getaddrinfo(self, host: Any, port: Any, **kwargs: Any) -> list[Any]:
        if isinstance(host, str) and host.endswith(".rebind.test"):
            return [
                (
                    socket.AF_INET6 if ":" in address else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (address, port),
                )
                for address in self.records.get(host, [])
            ]
        return await self._system(host, port, **kwargs)


@pytest.fixture
async def dns(monkeypatch: pytest.MonkeyPatch) -> Dns:
    loop = asyncio.get_running_loop()
    stub = Dns(loop)
    monkeypatch.setattr(loop, "getaddrinfo", stub.getaddrinfo)
    return stub


@pytest.mark.catalogue(39)
@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        ["169.254.169.254"],
        ["10.0.0.7"],
        ["::1"],
        ["93.184.215.14", "192.168.0.2"],
        *([address] for address in EMBEDDED_PRIVATE),
    ],
)
async def test_a_name_resolving_to_a_private_address_is_refused(
    guarded: tuple[Container, httpx.AsyncClient], mailbox: Mailbox, dns: Dns, addresses: list[str]
) -> None:
    container, client = guarded
    owner = await register_on_plan(container, client, mailbox, "guarded@example.com", "basic")
    dns.records["hooks.rebind.test"] = addresses
    body = {"url": "http://hooks.rebind.test/hook", "events": ["*"]}
    response = await client.post(HOOKS, headers=owner.headers(), json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "webhook_url_forbidden"


@pytest.mark.catalogue(39)
async def test_a_name_rebound_to_loopback_after_creation_gets_nothing(
    guarded: tuple[Container, httpx.AsyncClient],
    mailbox: Mailbox,
    dns: Dns,
    receiver: Receiver,
) -> None:
    container, client = guarded
    owner = await register_on_plan(container, client, mailbox, "guarded@example.com", "basic")
    dns.records["hooks.rebind.test"] = ["93.184.215.14"]
    url = receiver.url(host="hooks.rebind.test")
    endpoint = await subscribe(client, owner, url, ["tenant.updated"])

    dns.records["hooks.rebind.test"] = ["127.0.0.1"]  # where the receiver listens
    await rename_tenant(client, owner, "Rebound")
    await settle(container)

    [delivery] = await deliveries(client, owner, endpoint["id"])
    assert [attempt["status_code"] for attempt in delivery["attempts"]] == [None]
    assert delivery["attempts"][0]["error"].startswith("refused")
    assert receiver.received == []


@pytest.mark.catalogue(39)
async def test_each_delivery_checks_the_address_again(receiver: Receiver) -> None:
    """An endpoint whose name later resolves to a private address (DNS rebinding) is refused
    at delivery time, before anything is sent."""
    async with new_http_client() as http:
        result = await WebhookSender(http, allow_private=False).send(
            receiver.url(), headers={}, body=b"{}"
        )
    assert result.status_code is None and not result.succeeded
    assert result.error is not None and result.error.startswith("refused")
    assert receiver.received == []


@pytest.mark.catalogue(39)
@pytest.mark.parametrize("address", EMBEDDED_PRIVATE)
async def test_ipv6_forms_of_private_addresses_are_refused_at_delivery(
    dns: Dns, address: str
) -> None:
    """A name rebound to an IPv6 form embedding a private IPv4 address, and that form as a
    literal, are refused before anything is sent."""
    dns.records["hooks.rebind.test"] = [address]
    async with new_http_client() as http:
        sender = WebhookSender(http, allow_private=False)
        for url in ("http://hooks.rebind.test/hook", f"http://[{address}]/hook"):
            result = await sender.send(url, headers={}, body=b"{}")
            assert result.error is not None and result.error.startswith("refused"), url


async def test_tenantry_worker_delivers_apart_from_the_api(
    settings: Settings, clock: ShiftableClock, mailbox: Mailbox, receiver: Receiver
) -> None:
    """`tenantry worker` as its own process delivers what an API process that runs no
    webhook dispatcher committed, and stops cleanly on SIGTERM."""
    api = Container(settings, clock=clock)
    await api.start(migrate=False, workers=False)
    mail = asyncio.create_task(api.mail_worker.run_forever())  # sign-up codes, nothing else
    worker: asyncio.subprocess.Process | None = None
    try:
        transport = httpx.ASGITransport(app=create_app(api, workers=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            owner = await register_on_plan(api, client, mailbox, "worker@example.com", "basic")
            await subscribe(client, owner, receiver.url(), ["tenant.updated"])
            await rename_tenant(client, owner, "Renamed while no worker runs")
        await asyncio.sleep(0.3)
        assert receiver.received == []
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tenantry",
            "worker",
            env={**os.environ, **settings_environment(settings)},
        )
        [received] = await receiver.wait_for(1, within=30)
        assert received.payload["data"]["name"] == "Renamed while no worker runs"
        worker.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            assert await worker.wait() == 0
    finally:
        mail.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await mail
        if worker is not None and worker.returncode is None:
            worker.kill()
        await api.stop()


async def test_one_fan_out_batch_serves_many_endpoints(
    settings: Settings, clock: ShiftableClock
) -> None:
    """A full batch of events for 15 endpoints: more rows than one PostgreSQL statement
    takes parameters for (asyncpg's 32,767), which once stopped delivery for good."""
    container = Container(settings, clock=clock)
    await container.start(migrate=False, workers=False)
    try:
        scope = EndpointScope.platform(uuid.uuid4())
        for number in range(15):
            await container.webhook_endpoints.create(
                scope=scope, url=f"https://93.184.215.14/{number}", event_types=["tenant.updated"]
            )
        clock.advance(1)
        events = [
            Event("tenant.updated", uuid.uuid4(), None, {"name": f"T{n}"})
            for n in range(FAN_OUT_BATCH + 10)
        ]
        async with container.db.transaction() as session:
            await record_events(session, events, now=clock.now())
        assert await container.webhook_dispatcher.fan_out() == FAN_OUT_BATCH
        assert await container.webhook_dispatcher.fan_out() == 10
        assert await container.webhook_dispatcher.fan_out() == 0
        async with container.db.read() as session:
            queued = await session.scalar(select(func.count()).select_from(WebhookDelivery))
        assert queued == 15 * len(events)
    finally:
        await container.stop()


async def test_https_goes_to_the_checked_address_under_the_host_name(
    receiver: Receiver, tmp_path: Path
) -> None:
    """The request is sent to the resolved IP, while TLS (SNI and the certificate check) and
    the Host header use the URL's name: a certificate for `localhost` only (no IP in it)
    verifies, and an IP URL, with no name to check the certificate against, does not."""
    certificate = issue_localhost_certificate(tmp_path)
    tls_receiver = Receiver()
    tls_receiver.use_tls(certificate.server_context())
    tls_receiver.start()
    try:
        async with new_http_client(verify=certificate.client_context()) as http:
            sender = WebhookSender(http, allow_private=True)
            by_name = await sender.send(tls_receiver.url(host="localhost"), headers={}, body=b"{}")
            by_ip = await sender.send(tls_receiver.url(), headers={}, body=b"{}")
    finally:
        tls_receiver.stop()
    assert by_name.succeeded, by_name
    assert tls_receiver.received[0].headers["host"] == f"localhost:{tls_receiver.port}"
    assert not by_ip.succeeded and by_ip.error is not None
    assert "certificate" in by_ip.error.lower() or "ssl" in by_ip.error.lower()


async def test_a_tenant_without_the_feature_cannot_use_webhooks(
    client: httpx.AsyncClient, mailbox: Mailbox, operator: Account, receiver: Receiver
) -> None:
    """A workspace on Free (webhooks off) is refused with the cheapest plan that has them;
    the platform admin's routes (operator tools) still reach its endpoints."""
    free = await register(client, mailbox, "free@example.com")
    created = await client.post(
        HOOKS, headers=free.headers(), json={"url": receiver.url(), "events": ["*"]}
    )
    assert created.status_code == 403, created.text
    assert created.headers["content-type"] == "application/problem+json"
    problem = created.json()
    assert problem["code"] == "feature_not_in_plan"
    assert (problem["feature"], problem["required_plan"]) == ("webhooks", "basic")
    assert "Basic" in problem["detail"]
    listed = await client.get(HOOKS, headers=free.headers())
    assert listed.json()["code"] == "feature_not_in_plan"
    admin = bearer(operator.access_token)
    body = {"url": receiver.url(), "events": ["*"], "tenant_id": free.tenant_id}
    assert (await client.post(ADMIN_HOOKS, headers=admin, json=body)).status_code == 201


async def test_an_override_stops_the_feature_and_its_deliveries_at_once(
    client: httpx.AsyncClient,
    container: Container,
    clock: ShiftableClock,
    ann: Account,
    operator: Account,
    receiver: Receiver,
) -> None:
    """Switched off, webhooks are refused from the next request, events are no longer
    queued for the tenant's endpoints and a delivery queued before is settled unsent; the
    platform's endpoints still get every event."""
    endpoint = await subscribe(client, ann, receiver.url("/ann"), ["tenant.updated"])
    receiver.answer(503)
    await rename_tenant(client, ann, "Queued before the switch")
    await settle(container)
    await receiver.wait_for(1)  # the first attempt failed; a retry is due in seconds
    await override_features(client, operator, ann.tenant_id, webhooks=False)

    refused = await client.get(f"{HOOKS}/{endpoint['id']}/deliveries", headers=ann.headers())
    assert refused.status_code == 403
    assert refused.json()["feature"] == "webhooks"
    assert "switched off" in refused.json()["detail"]
    platform = await client.post(
        ADMIN_HOOKS,
        headers=bearer(operator.access_token),
        json={"url": receiver.url("/platform"), "events": ["tenant.updated"]},
    )
    assert platform.status_code == 201, platform.text
    await rename_tenant(client, ann, "After the switch")
    clock.advance(10)
    await settle(container)
    await receiver.wait_for(2)
    await asyncio.sleep(0.2)
    assert [(item.path, item.payload["data"]["name"]) for item in receiver.received] == [
        ("/ann", "Queued before the switch"),
        ("/platform", "After the switch"),
    ]

    await override_features(client, operator, ann.tenant_id, webhooks=None)  # Basic's again
    # Oldest first: nothing was queued while off; switching back is itself an event.
    settled, *since = await deliveries(client, ann, endpoint["id"])
    assert len(since) <= 1
    assert settled["status"] == "failed"
    assert settled["attempts"][0]["error"].startswith("feature_not_in_plan")
    assert settled["attempts"][1]["status_code"] == 503
