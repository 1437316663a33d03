"""Argon2 runs only after every allowance, lockout and code has been checked (issue 18 item 4):
a throttled sign-up or registration, and a confirmation or reset with a wrong code, cost no
hash; every anonymous route that hashes is limited per client address; new hashes wait on a
bounded lane of their own, so logins keep their cores."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from tenantry.bootstrap import Container
from tenantry.settings import Settings
from tenantry.transports.rest.app import create_app
from tests.support.api import PASSWORD, register
from tests.support.clock import ShiftableClock
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.integration

HASH_LIMIT = 4


class CountingHashes:
    """Counts the Argon2 hashes and verifications the container's hasher runs."""

    def __init__(self, container: Container, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hashes = 0
        self.verifies = 0
        passwords = container.passwords
        hash_, verify = passwords.hash, passwords.verify

        async def counted_hash(password: str) -> str:
            self.hashes += 1
            return await hash_(password)

        async def counted_verify(password_hash: str | None, password: str) -> bool:
            self.verifies += 1
            return await verify(password_hash, password)

        monkeypatch.setattr(passwords, "hash", counted_hash)
        monkeypatch.setattr(passwords, "verify", counted_verify)


@pytest.fixture
def argon2(container: Container, monkeypatch: pytest.MonkeyPatch) -> CountingHashes:
    return CountingHashes(container, monkeypatch)


async def sign_up(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/v1/auth/signup", json={"email": email, "password": PASSWORD})


def registration(email: str) -> dict[str, str]:
    return {
        "tenant_name": "Acme",
        "email": email,
        "name": "Ann",
        "password": PASSWORD,
        "plan": "free",
    }


async def test_throttled_sign_ups_and_registrations_cost_no_hash(
    client: httpx.AsyncClient, container: Container, argon2: CountingHashes
) -> None:
    allowance = container.settings.address_mail_limit
    for _ in range(allowance):
        assert (await sign_up(client, "flood@example.com")).status_code == 202
    hashed = argon2.hashes
    refused = await asyncio.gather(*(sign_up(client, "flood@example.com") for _ in range(20)))
    registered = await client.post("/v1/registrations", json=registration("flood@example.com"))
    assert {response.status_code for response in refused} == {429}
    assert registered.status_code == 429
    assert argon2.hashes == hashed == allowance


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/v1/auth/confirm", {"code": "000000", "password": "a brand new password"}),
        ("/v1/auth/password/reset", {"code": "000000", "password": "a brand new password"}),
    ],
)
async def test_a_wrong_code_costs_no_hash(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    argon2: CountingHashes,
    route: str,
    body: dict[str, str],
) -> None:
    await register(client, mailbox, "ann@example.com")
    await client.post("/v1/auth/password/forgot", json={"email": "ann@example.com"})
    hashed = argon2.hashes
    for email in ("ann@example.com", "nobody@example.com"):
        response = await client.post(route, json={"email": email, **body})
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "invalid_code"
    assert argon2.hashes == hashed


async def test_a_right_code_with_a_password_is_hashed_once_and_signs_in(
    client: httpx.AsyncClient, mailbox: Mailbox, argon2: CountingHashes
) -> None:
    await client.post("/v1/auth/email-code", json={"email": "fresh@example.com"})
    code = await mailbox.code_for("fresh@example.com")
    confirmed = await client.post(
        "/v1/auth/confirm",
        json={"email": "fresh@example.com", "code": code, "password": "a brand new password"},
    )
    assert confirmed.status_code == 200, confirmed.text
    assert argon2.hashes == 1
    login = {"email": "fresh@example.com", "password": "a brand new password"}
    assert (await client.post("/v1/auth/login", json=login)).status_code == 200


@pytest.fixture
async def limited(
    settings: Settings, clock: ShiftableClock
) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    """Clients from addresses of their choosing, on a server allowing HASH_LIMIT hashing
    requests per address and window; 127.0.0.2 is a proxy it trusts."""
    changes = {
        "client_hash_limit": HASH_LIMIT,
        "trusted_proxies": [ipaddress.ip_network("127.0.0.2/32")],
    }
    container = Container(settings.model_copy(update=changes), clock=clock)
    await container.start(migrate=False)
    app = create_app(container)
    opened: list[httpx.AsyncClient] = []

    def client_from(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 4000))
        opened.append(httpx.AsyncClient(transport=transport, base_url="http://testserver"))
        return opened[-1]

    yield client_from
    for client in opened:
        await client.aclose()
    await container.stop()


HASHING_ROUTES: dict[str, Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]] = {
    "sign-up": lambda client, n: sign_up(client, f"u{n}@example.com"),
    "login": lambda client, n: client.post(
        "/v1/auth/login", json={"email": f"u{n}@example.com", "password": PASSWORD}
    ),
    "registration": lambda client, n: client.post(
        "/v1/registrations", json=registration(f"u{n}@example.com")
    ),
    "reset": lambda client, n: client.post(
        "/v1/auth/password/reset",
        json={"email": f"u{n}@example.com", "code": "123456", "password": PASSWORD},
    ),
}


@pytest.mark.parametrize("route", HASHING_ROUTES)
async def test_every_anonymous_hashing_route_is_limited_per_client_address(
    limited: Callable[[str], httpx.AsyncClient], route: str
) -> None:
    call = HASHING_ROUTES[route]
    flooder = limited("203.0.113.9")
    answers = await asyncio.gather(*(call(flooder, n) for n in range(HASH_LIMIT + 3)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(429) == 3, statuses
    refusal = next(answer for answer in answers if answer.status_code == 429)
    assert refusal.json()["code"] == "too_many_requests"
    assert 0 < int(refusal.headers["Retry-After"]) <= 61  # the window, rounded up
    # another address is not held to the flooder's count, nor one a trusted proxy names
    assert (await call(limited("198.51.100.4"), 99)).status_code != 429
    proxy = limited("127.0.0.2")
    forwarded = await proxy.post(
        "/v1/auth/signup",
        json={"email": "fwd@example.com", "password": PASSWORD},
        headers={"X-Forwarded-For": "192.0.2.1"},
    )
    assert forwarded.status_code == 202
    # while an untrusted peer cannot escape its count by naming another address
    spoofed = await flooder.post(
        "/v1/auth/signup",
        json={"email": "spoof@example.com", "password": PASSWORD},
        headers={"X-Forwarded-For": "192.0.2.1"},
    )
    assert (spoofed.status_code, spoofed.json()["code"]) == (429, "too_many_requests")
