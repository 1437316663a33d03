"""Parallel requests against a real server process (SPEC §4, §5; security catalogue 5, 9, 19).

Every test fires its requests at once with `asyncio.gather` at a uvicorn subprocess serving
the test database, and checks the outcome in the database through the in-process container."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from tenantry.bootstrap import Container
from tenantry.settings import Settings
from tenantry.storage.models import EmailCode, LoginThrottle, Registration, User
from tests.integration.test_registrations import registration
from tests.support.api import PASSWORD, register
from tests.support.counts import ONE_WORKSPACE, count_rows, workspace_counts
from tests.support.mailbox import CODE, Mailbox
from tests.support.server import running_server

pytestmark = pytest.mark.integration

MAX_FAILURES = 10  # TENANTRY_LOGIN_MAX_FAILURES default: the server runs with it
WRONG = "not the password at all"


@pytest.fixture
async def http(container: Container, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a real server process sharing the test database. `container` is started
    first so the signing key exists before the server starts."""
    assert container.settings is settings
    with running_server(settings) as base_url:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:
            yield client


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


async def live_confirm_code(container: Container, email: str, mailed: list[str]) -> str:
    """The one mailed code that is still live: the server and the container hash codes with
    the same master key, so the stored digest identifies it."""
    key = email.lower()
    async with container.db.read() as session:
        digests = list(
            await session.scalars(
                select(EmailCode.code_hash).where(
                    EmailCode.email_key == key,
                    EmailCode.purpose == "confirm",
                    EmailCode.used_at.is_(None),
                )
            )
        )
    assert len(digests) == 1, "exactly one live confirmation code per address"
    live = [c for c in mailed if container.identity.secrets.matches(digests[0], "confirm", key, c)]
    assert live, "the live code was mailed"
    return live[0]


def mailed_codes(mailbox: Mailbox, email: str) -> list[str]:
    codes = []
    for mail in mailbox.messages(email):
        match = CODE.search(mail.text)
        assert match, mail.text
        codes.append(match.group(1))
    return codes


async def failures_on_record(container: Container, email: str) -> int:
    async with container.db.read() as session:
        failures = await session.scalar(
            select(LoginThrottle.failures).where(LoginThrottle.email_key == email.lower())
        )
    return int(failures or 0)


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/v1/auth/login", json={"email": email, "password": password})


def assert_throttled(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "too_many_attempts"
    assert int(response.headers["Retry-After"]) >= 1


# --- 5. raced sign-ups --------------------------------------------------------------------


@pytest.mark.catalogue(5)
async def test_parallel_sign_ups_of_one_email_create_one_account_and_one_workspace(
    http: httpx.AsyncClient, mailbox: Mailbox, container: Container
) -> None:
    spellings = ["race@example.com", "Race@Example.com", "RACE@EXAMPLE.COM", "race@EXAMPLE.com"]
    emails = [spellings[i % len(spellings)] for i in range(20)]

    responses = await asyncio.gather(
        *(
            http.post(
                "/v1/auth/signup", json={"email": email, "password": PASSWORD, "name": "Racer"}
            )
            for email in emails
        )
    )

    # each was counted against the address's mail allowance, exactly: the rest are refused
    limit = container.settings.address_mail_limit
    assert statuses(responses) == {202: limit, 429: 20 - limit}
    accepted = [r for r in responses if r.status_code == 202]
    assert {(r.headers["content-type"], r.content) for r in accepted} == {
        ("application/json", b'{"status":"confirmation_required"}')
    }
    assert await count_rows(container.db, User) == 1
    assert await count_rows(container.db, User, User.email_key == "race@example.com") == 1

    await mailbox.wait_for("race@example.com", count=limit, within=30)
    code = await live_confirm_code(
        container, "race@example.com", mailed_codes(mailbox, "race@example.com")
    )
    confirmed = await http.post(
        "/v1/auth/confirm", json={"email": "rAcE@example.com", "code": code}
    )
    assert confirmed.status_code == 200, confirmed.text
    assert await workspace_counts(container.db) == ONE_WORKSPACE


# --- 5 / SPEC §5. raced confirmations -----------------------------------------------------


async def test_parallel_confirms_of_one_code_succeed_once(
    http: httpx.AsyncClient, mailbox: Mailbox, container: Container
) -> None:
    email = "confirm-race@example.com"
    signed_up = await http.post("/v1/auth/signup", json={"email": email, "password": PASSWORD})
    assert signed_up.status_code == 202
    code = await mailbox.code_for(email)

    responses = await asyncio.gather(
        *(http.post("/v1/auth/confirm", json={"email": email, "code": code}) for _ in range(16))
    )

    assert statuses(responses) == {200: 1, 400: 15}
    assert {r.json()["code"] for r in responses if r.status_code == 400} == {"invalid_code"}
    assert await workspace_counts(container.db) == ONE_WORKSPACE
    async with container.db.read() as session:
        user = await session.scalar(select(User).where(User.email_key == email))
    assert user is not None
    assert user.email_verified
    assert user.default_tenant_id is not None


# --- 9. raced wrong passwords -------------------------------------------------------------


@pytest.mark.catalogue(9)
@pytest.mark.parametrize("parallel", [12, 50])
async def test_parallel_wrong_passwords_are_counted_exactly_and_the_lockout_holds(
    http: httpx.AsyncClient, mailbox: Mailbox, container: Container, parallel: int
) -> None:
    account = await register(http, mailbox, "lock@example.com")

    responses = await asyncio.gather(*(login(http, account.email, WRONG) for _ in range(parallel)))

    # Exactly the allowance of guesses is checked; the guesses beyond it are refused unchecked,
    # however they interleave (no race window: a lockout race let Zitadel users try more).
    assert statuses(responses) == {401: MAX_FAILURES, 429: parallel - MAX_FAILURES}
    for response in responses:
        if response.status_code == 401:
            assert response.json()["code"] == "invalid_credentials"
        else:
            assert_throttled(response)
    # Every checked guess is counted exactly once; the refused ones were never checked.
    assert await failures_on_record(container, account.email) == MAX_FAILURES
    assert_throttled(await login(http, account.email, account.password))


@pytest.mark.catalogue(9)
async def test_parallel_guesses_never_exceed_the_remaining_allowance(
    http: httpx.AsyncClient, mailbox: Mailbox, container: Container
) -> None:
    account = await register(http, mailbox, "allowance@example.com")
    for _ in range(MAX_FAILURES - 1):
        assert (await login(http, account.email, WRONG)).status_code == 401

    responses = await asyncio.gather(
        *(login(http, account.email, f"guess number {n:02d} !") for n in range(20))
    )

    # One guess was left: whichever request took it, the other nineteen were refused unchecked.
    assert statuses(responses) == {401: 1, 429: 19}
    assert await failures_on_record(container, account.email) == MAX_FAILURES
    assert_throttled(await login(http, account.email, account.password))


async def test_parallel_wrong_passwords_for_an_unknown_email_lock_it_too(
    http: httpx.AsyncClient, container: Container
) -> None:
    email = "nobody-here@example.com"

    responses = await asyncio.gather(*(login(http, email, WRONG) for _ in range(50)))

    assert statuses(responses) == {401: MAX_FAILURES, 429: 50 - MAX_FAILURES}
    assert await failures_on_record(container, email) == MAX_FAILURES
    assert_throttled(await login(http, email, WRONG))


# --- 19. raced refreshes ------------------------------------------------------------------


@pytest.mark.catalogue(19)
@pytest.mark.parametrize("parallel", [2, 8])
async def test_parallel_refreshes_of_one_token_succeed_at_most_once(
    http: httpx.AsyncClient, mailbox: Mailbox, parallel: int
) -> None:
    account = await register(http, mailbox, f"refresh{parallel}@example.com")

    responses = await asyncio.gather(
        *(
            http.post("/v1/auth/refresh", json={"refresh_token": account.refresh_token})
            for _ in range(parallel)
        )
    )

    counted = statuses(responses)
    assert counted[200] <= 1, counted
    assert counted[200] + counted[401] == parallel, counted
    assert {r.json()["code"] for r in responses if r.status_code == 401} <= {
        "invalid_refresh_token"
    }
    again = await http.post("/v1/auth/refresh", json={"refresh_token": account.refresh_token})
    assert again.status_code == 401


# --- retried registrations ----------------------------------------------------------------


async def test_parallel_registrations_with_one_key_register_once(
    http: httpx.AsyncClient, container: Container
) -> None:
    keyed = {"Idempotency-Key": "raced-registration"}
    body = registration("basic", email="raced@example.com")

    responses = await asyncio.gather(
        *(http.post("/v1/registrations", headers=keyed, json=body) for _ in range(8))
    )

    assert statuses(responses) == {202: 8}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum("Idempotent-Replayed" not in r.headers for r in responses) == 1
    assert await count_rows(container.db, Registration) == 1
