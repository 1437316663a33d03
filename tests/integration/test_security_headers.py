"""Security headers and limits on every response (issue 9, item 6): `nosniff`, a referrer policy
and `no-store` unless a route sets its own caching, HSTS over HTTPS only, no server banner, a
body cap on every route and a deadline on every request."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from ipaddress import ip_network
from typing import Any
from urllib.parse import urlsplit

import fastapi
import httpx
import pytest
import starlette
import uvicorn

from tenantry.bootstrap import Container
from tenantry.settings import Settings
from tests.support.api import Account, bearer
from tests.support.apps import client_with
from tests.support.clock import ShiftableClock
from tests.support.net import free_port
from tests.support.plans import move_to_plan
from tests.support.routes import assert_problem
from tests.support.server import running_server

pytestmark = pytest.mark.integration

EVERY_RESPONSE = {"x-content-type-options": "nosniff", "referrer-policy": "same-origin"}
HSTS = "max-age=63072000; includeSubDomains"
MIB = 1_048_576
# What a banner would give away: the server's and the frameworks' names and versions.
BANNERS = [
    text.encode()
    for module in (fastapi, starlette, uvicorn)
    for text in (module.__name__, f"/{module.__version__}", f" {module.__version__}")
] + [b"python"]
PROXY = "10.0.0.0/8"


def assert_secured(response: httpx.Response, *, hsts: bool) -> None:
    """The headers of every response, each once, and no banner."""
    where = f"{response.request.method} {response.request.url.path}"
    for name, value in EVERY_RESPONSE.items():
        assert response.headers.get_list(name) == [value], where
    assert len(response.headers.get_list("cache-control")) == 1, where
    assert response.headers.get_list("strict-transport-security") == ([HSTS] if hsts else []), where
    assert "server" not in response.headers, where
    assert "x-powered-by" not in response.headers, where
    assert not banner_in(b"".join(name + b" " + value for name, value in response.headers.raw))


def banner_in(text: bytes) -> bool:
    return any(banner in text.lower() for banner in BANNERS)


async def test_every_kind_of_response_carries_the_security_headers(
    client: httpx.AsyncClient, ann: Account
) -> None:
    responses = {
        "api": await client.get("/v1/me", headers=ann.headers()),
        "problem": await client.get("/v1/me"),
        "routing": await client.get("/v1/no-such-route"),
        "page": await client.get("/login"),
        "metrics": await client.get("/metrics"),
        "openapi": await client.get("/openapi.json"),
        "docs": await client.get("/docs"),
    }

    for response in responses.values():
        assert_secured(response, hsts=False)  # http://testserver: plain http, no proxy
        assert response.headers["cache-control"] == "no-store"
    assert responses["api"].status_code == 200
    assert_problem(responses["problem"], 401, "missing_token")
    assert_problem(responses["routing"], 404, "not_found")
    page = responses["page"]
    assert page.status_code == 200
    assert page.headers.get_list("x-frame-options") == ["DENY"]
    assert len(page.headers.get_list("content-security-policy")) == 1
    for kind in ("problem", "routing"):
        assert not banner_in(responses[kind].content)


async def test_responses_that_carry_tokens_or_secrets_are_never_stored(
    settings: Settings, clock: ShiftableClock, container: Container, ann: Account, acme: str
) -> None:
    await move_to_plan(container, ann.tenant_id, "basic")  # the cheapest plan with webhooks
    # a webhook URL on this machine: no resolving of a public name needed
    async with client_with(settings, clock, webhook_allow_private=True) as client:
        tokens = await client.post(
            "/v1/auth/login", json={"email": ann.email, "password": ann.password}
        )
        refreshed = await client.post(
            "/v1/auth/refresh", json={"refresh_token": tokens.json()["refresh_token"]}
        )
        webhook = await client.post(
            "/v1/webhook-endpoints",
            headers=ann.headers(),
            json={"url": f"http://127.0.0.1:{free_port()}/hooks", "events": ["*"]},
        )
        invitation = await client.post(
            "/v1/invitations",
            headers=ann.headers(acme),
            json={"email": "bo@example.com", "role": "viewer"},
        )

    for response, status in ((tokens, 200), (refreshed, 200), (webhook, 201), (invitation, 201)):
        assert response.status_code == status, response.text
        assert response.headers.get_list("cache-control") == ["no-store"]
    assert "secret" in webhook.json()


async def test_a_route_keeps_its_own_caching(client: httpx.AsyncClient) -> None:
    keys = await client.get("/.well-known/jwks.json")
    stylesheet = await client.get("/assets/web.css")

    assert keys.headers.get_list("cache-control") == ["public, max-age=300"]
    assert stylesheet.status_code == 200
    assert stylesheet.headers.get_list("cache-control") == ["no-cache"]
    for response in (keys, stylesheet):
        assert_secured(response, hsts=False)


HSTS_CASES = {
    "https public URL, plain http behind it": ({"public_url": "https://id.example.com"}, {}, True),
    "https to the app itself": ({}, {"base_url": "https://testserver"}, True),
    "trusted proxy forwarding https": ({}, {"peer": ("10.1.2.3", 4000), "proto": "https"}, True),
    "trusted proxy forwarding http": ({}, {"peer": ("10.1.2.3", 4000), "proto": "http"}, False),
    "untrusted peer claiming https": ({}, {"peer": ("203.0.113.7", 4000), "proto": "https"}, False),
    "localhost development on http": ({"public_url": "http://localhost:8000"}, {}, False),
}


@pytest.mark.parametrize(("changes", "request_", "hsts"), HSTS_CASES.values(), ids=HSTS_CASES)
async def test_hsts_only_when_the_client_came_over_https(
    settings: Settings,
    clock: ShiftableClock,
    changes: dict[str, Any],
    request_: dict[str, Any],
    hsts: bool,
) -> None:
    connection = {key: value for key, value in request_.items() if key != "proto"}
    headers = {"X-Forwarded-Proto": request_["proto"]} if "proto" in request_ else {}
    proxies: dict[str, Any] = {"trusted_proxies": [ip_network(PROXY)]}
    async with client_with(settings, clock, **connection, **proxies, **changes) as client:
        for path in ("/healthz", "/v1/me", "/login"):
            assert_secured(await client.get(path, headers=headers), hsts=hsts)


async def test_a_body_over_the_limit_is_refused_before_any_route_reads_it(
    client: httpx.AsyncClient, ann: Account
) -> None:
    headers = {**ann.headers(), "Content-Type": "application/json"}
    before = (await client.get("/v1/projects", headers=ann.headers())).json()
    body = json.dumps({"name": "Huge", "description": "x" * MIB}).encode()

    declared = await client.post("/v1/projects", headers=headers, content=body)
    chunked = await client.post("/v1/projects", headers=headers, content=chunks(body))

    assert declared.request.headers["content-length"] == str(len(body))
    assert "content-length" not in chunked.request.headers
    for response in (declared, chunked):
        assert_problem(response, 413, "payload_too_large")
        assert_secured(response, hsts=False)
    assert (await client.get("/v1/projects", headers=ann.headers())).json() == before


async def test_tighter_route_limits_still_apply(client: httpx.AsyncClient, ann: Account) -> None:
    query = json.dumps({"query": "{ me { id } }", "padding": "x" * 100_000}).encode()

    response = await client.post(
        "/graphql",
        headers={**ann.headers(), "Content-Type": "application/json"},
        content=chunks(query),
    )

    assert_problem(response, 413, "payload_too_large")


async def test_the_body_limit_is_configurable(
    settings: Settings, clock: ShiftableClock, ann: Account
) -> None:
    login = {"email": ann.email, "password": ann.password}
    async with client_with(settings, clock, max_body_bytes=2048) as client:
        small = await client.post("/v1/auth/login", json=login)
        padded = await client.post("/v1/auth/login", json={**login, "pad": "x" * 2048})

    assert small.status_code == 200, small.text
    assert_problem(padded, 413, "payload_too_large")


async def test_a_request_past_its_deadline_answers_503(
    settings: Settings, clock: ShiftableClock, ann: Account
) -> None:
    """Checking a password (against the dummy hash, for an unknown email) at a high cost
    takes seconds: longer than this deadline."""
    costly: dict[str, Any] = {
        "argon2_memory_kib": 262_144,
        "argon2_time_cost": 8,
        "request_timeout": 0.5,
    }
    async with client_with(settings, clock, **costly) as client:
        response = await client.post(
            "/v1/auth/login", json={"email": "nobody@example.com", "password": ann.password}
        )

    assert_problem(response, 503, "request_timeout")
    assert response.headers["retry-after"] == "5"
    assert_secured(response, hsts=False)


async def test_a_plan_change_moving_data_outlasts_the_deadline(
    client: httpx.AsyncClient,
    container: Container,
    settings: Settings,
    clock: ShiftableClock,
    acme: str,
    operator: Account,
) -> None:
    # Well under the move's own time (creating and migrating the silo: 0.13 s at the fastest
    # seen, on SQLite), so that the move surely outlasts it.
    deadline = 0.05
    async with client_with(settings, clock, request_timeout=deadline) as short:
        started = time.monotonic()
        moved = await short.patch(
            f"/v1/admin/tenants/{acme}",
            headers=bearer(operator.access_token),
            json={"plan": "premium"},
        )
        took = time.monotonic() - started

    assert moved.status_code == 200, moved.text
    assert took > deadline  # the move did outlast the deadline that other routes keep to
    details = await client.get(f"/v1/admin/tenants/{acme}", headers=bearer(operator.access_token))
    assert details.json()["isolation"] == "silo"
    assert await container.plan_changes.moving(uuid.UUID(acme)) is False


async def test_no_banner_from_a_real_server(settings: Settings) -> None:
    """`tenantry serve`: the public listener and the admin one."""
    admin_listen = f"127.0.0.1:{free_port()}"
    with running_server(settings, admin_listen=admin_listen) as base_url:
        for url in (base_url, f"http://{admin_listen}"):
            async with httpx.AsyncClient(base_url=url) as client:
                for path in ("/healthz", "/v1/no-such-route"):
                    assert_secured(await client.get(path), hsts=False)
            garbled = await raw_exchange(url, b"NONSENSE\r\n\r\n", pace=None)
            assert garbled.startswith(b"HTTP/1.1 400"), garbled
            assert b"\r\nserver:" not in garbled.lower()
            assert not banner_in(garbled)


async def test_a_slow_body_upload_is_cut_off(settings: Settings) -> None:
    """A client sending its body a byte a second (slowloris) holds the request no longer
    than the deadline: 408, and the connection closed."""
    slow = settings.model_copy(update={"request_timeout": 2.0})
    head = (
        b"POST /v1/auth/login HTTP/1.1\r\nHost: tenantry\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
    )
    with running_server(slow) as base_url:
        started = time.monotonic()
        answer = await raw_exchange(base_url, head, pace=1.0)
        took = time.monotonic() - started

    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b'"code":"request_timeout"' in answer
    assert b"\r\nconnection: close" in answer.lower()
    assert b"\r\nserver:" not in answer.lower()
    assert took < 60  # cut off, long before the 1000 s the upload would take


async def raw_exchange(base_url: str, head: bytes, *, pace: float | None) -> bytes:
    """Send `head` over a raw connection, then (with `pace`) one more body byte every `pace`
    seconds; everything the server answers until it closes the connection (at most 60 s)."""
    address = urlsplit(base_url)
    assert address.hostname is not None and address.port is not None
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    writer.write(head)
    answer = b""
    give_up = time.monotonic() + 60
    try:
        while time.monotonic() < give_up:
            try:
                chunk = await asyncio.wait_for(reader.read(65_536), pace or 5.0)
            except TimeoutError:
                if pace is not None:
                    writer.write(b" ")
                continue
            if not chunk:
                return answer
            answer += chunk
        raise AssertionError(f"the server kept the connection open: {answer!r}")
    finally:
        writer.close()


async def chunks(body: bytes, size: int = 65_536) -> AsyncIterator[bytes]:
    """`body` as a stream (sent chunked, with no Content-Length)."""
    for start in range(0, len(body), size):
        yield body[start : start + size]
