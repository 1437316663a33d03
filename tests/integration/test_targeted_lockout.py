"""A stranger cannot lock an account's owner out (issue 18 item 5). The review kept an owner
out with five `forgot` calls and ten wrong passwords an hour. Failures and mail are now counted
per (account, client) as well as per account; a client that proves it holds the account (the
device cookie of an earlier sign-in, or a mailed code) is held to its own counts, and the
account-wide count only slows it down. Each client here is its own address and cookie jar."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import httpx
import pytest
from fastapi import FastAPI

from tenantry.bootstrap import Container
from tenantry.domain.identity.throttle import SLOWDOWN_STEP
from tenantry.settings import Settings
from tenantry.transports.rest.app import create_app
from tenantry.transports.rest.devices import DEVICE_COOKIE
from tests.support.api import Account, register
from tests.support.apps import client_with
from tests.support.clock import ShiftableClock
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.integration

Clients = Callable[[str], httpx.AsyncClient]
WRONG = "not the password at all"


@pytest.fixture
async def clients(container: Container) -> AsyncIterator[Clients]:
    """A new client (cookie jar) connecting from the address it is given."""
    app: FastAPI = create_app(container)
    async with AsyncExitStack() as stack:

        def client_from(ip: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(ip, 4000))
            client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            stack.push_async_callback(client.aclose)
            return client

        yield client_from


@pytest.fixture
async def owner(clients: Clients, mailbox: Mailbox) -> tuple[httpx.AsyncClient, Account]:
    """The owner's browser, which signed up and so holds a device cookie."""
    device = clients("198.51.100.7")
    return device, await register(device, mailbox, "owner@example.com")


async def login(client: httpx.AsyncClient, password: str) -> httpx.Response:
    return await client.post(
        "/v1/auth/login", json={"email": "owner@example.com", "password": password}
    )


async def ask(client: httpx.AsyncClient, route: str) -> httpx.Response:
    return await client.post(route, json={"email": "owner@example.com"})


def code_of(response: httpx.Response) -> tuple[int, str | None]:
    return response.status_code, response.json().get("code") if response.content else None


async def test_the_reviews_attack_locks_the_stranger_out_and_not_the_owner(
    clients: Clients,
    owner: tuple[httpx.AsyncClient, Account],
    container: Container,
    mailbox: Mailbox,
) -> None:
    device, account = owner
    stranger = clients("203.0.113.66")
    for _ in range(5):
        assert (await ask(stranger, "/v1/auth/password/forgot")).status_code == 202
    for _ in range(container.settings.login_max_failures):
        assert (await login(stranger, WRONG)).status_code == 401
    # the stranger is out, whatever they try
    assert code_of(await login(stranger, account.password)) == (429, "too_many_attempts")
    assert code_of(await ask(stranger, "/v1/auth/email-code")) == (429, "too_many_emails")
    assert code_of(await ask(stranger, "/v1/auth/password/forgot")) == (429, "too_many_emails")
    # the owner's browser is not: password, emailed code and reset all work
    assert (await login(device, account.password)).status_code == 200
    assert (await ask(device, "/v1/auth/email-code")).status_code == 202
    assert (await ask(device, "/v1/auth/password/forgot")).status_code == 202
    # and so does a new device of the owner's, from another address
    laptop = clients("192.0.2.44")
    assert (await login(laptop, account.password)).status_code == 200


async def test_a_distributed_guesser_hits_the_account_wide_count_and_the_owner_gets_in(
    clients: Clients,
    owner: tuple[httpx.AsyncClient, Account],
    container: Container,
    mailbox: Mailbox,
) -> None:
    device, account = owner
    per_client = container.settings.login_max_failures
    per_account = container.settings.login_account_max_failures
    for address in range(per_account // per_client):
        guesser = clients(f"203.0.113.{address + 1}")
        for _ in range(per_client):
            assert (await login(guesser, WRONG)).status_code == 401
    # every client without a proof is now refused, the right password included
    newcomer = clients("192.0.2.200")
    assert code_of(await login(newcomer, account.password)) == (429, "too_many_attempts")
    # the owner's device gets in, slowed down rather than refused
    started = time.monotonic()
    signed_in = await login(device, account.password)
    assert signed_in.status_code == 200, signed_in.text
    assert time.monotonic() - started >= SLOWDOWN_STEP
    # a new device of the owner's proves itself with a mailed code, then signs in with a password
    assert (await ask(newcomer, "/v1/auth/email-code")).status_code == 202
    code = await mailbox.code_for("owner@example.com", count=2)
    confirmed = await newcomer.post(
        "/v1/auth/confirm", json={"email": "owner@example.com", "code": code}
    )
    assert confirmed.status_code == 200, confirmed.text
    assert DEVICE_COOKIE in newcomer.cookies
    assert (await login(newcomer, account.password)).status_code == 200
    assert code_of(await login(clients("192.0.2.201"), account.password))[0] == 429


async def test_a_proven_device_is_still_held_to_its_own_count(
    owner: tuple[httpx.AsyncClient, Account], container: Container
) -> None:
    device, account = owner
    for _ in range(container.settings.login_max_failures):
        assert (await login(device, WRONG)).status_code == 401
    assert code_of(await login(device, account.password)) == (429, "too_many_attempts")


async def test_a_distributed_mail_flood_spares_the_owners_device(
    clients: Clients, owner: tuple[httpx.AsyncClient, Account], container: Container
) -> None:
    device, _account = owner
    per_client = container.settings.address_mail_limit
    per_address = container.settings.address_mail_total_limit
    # the owner's sign-up mail counted toward the address's total too
    for address in range(per_address // per_client):
        sender = clients(f"203.0.113.{address + 1}")
        for _ in range(per_client - (address == 0)):
            assert (await ask(sender, "/v1/auth/email-code")).status_code == 202
    refused = await ask(clients("192.0.2.9"), "/v1/auth/email-code")
    assert code_of(refused) == (429, "too_many_emails")
    assert (await ask(device, "/v1/auth/email-code")).status_code == 202


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: token[:-1] + ("0" if token[-1] != "0" else "1"),
        lambda token: "x" + token,
        lambda token: token.partition(".")[0],
        lambda token: "",
        lambda token: token + "." * 300,
    ],
)
async def test_a_forged_or_foreign_device_cookie_proves_nothing(
    clients: Clients,
    owner: tuple[httpx.AsyncClient, Account],
    container: Container,
    mailbox: Mailbox,
    forge: Callable[[str], str],
) -> None:
    device, account = owner
    other = clients("192.0.2.77")
    await register(other, mailbox, "other@example.com")
    foreign = other.cookies[DEVICE_COOKIE]
    for address, token in enumerate((foreign, forge(device.cookies[DEVICE_COOKIE]))):
        impostor = clients(f"203.0.113.{address + 5}")
        impostor.cookies.set(DEVICE_COOKIE, token)
        for _ in range(container.settings.login_max_failures):
            assert (await login(impostor, WRONG)).status_code == 401
        assert code_of(await login(impostor, account.password)) == (429, "too_many_attempts")
    assert (await login(device, account.password)).status_code == 200


async def test_the_device_cookie_is_http_only_and_host_only(
    owner: tuple[httpx.AsyncClient, Account],
) -> None:
    device, account = owner
    response = await login(device, account.password)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{DEVICE_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie and "Secure" not in cookie  # plain http here


async def test_under_https_the_device_cookie_is_a_host_cookie(
    settings: Settings, clock: ShiftableClock, mailbox: Mailbox
) -> None:
    async with client_with(
        settings, clock, base_url="https://testserver", public_url="https://testserver"
    ) as client:
        await register(client, mailbox, "owner@example.com")
        response = await client.post(
            "/v1/auth/login",
            json={"email": "owner@example.com", "password": "correct horse battery staple"},
        )
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"__Host-{DEVICE_COOKIE}=")
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
