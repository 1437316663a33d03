"""Password login: the token response, no account enumeration (in answers and in CPU cost),
unconfirmed accounts and the lockout with its window (SPEC §4; security catalogue 6, 8, 10).
Parallel lockout counting (catalogue 9) is in test_races.py."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable
from typing import Any

import httpx
import jwt
import pytest

from tenantry.settings import Settings
from tests.support.api import PASSWORD, Account, register
from tests.support.apps import client_with
from tests.support.clock import ShiftableClock
from tests.support.mailbox import Mailbox
from tests.support.tokens import fetch_jwks, me_status, public_key_from_jwk

pytestmark = pytest.mark.integration

ISSUER = "http://testserver"
MAX_FAILURES = 10
WINDOW = 15 * 60
WRONG = "definitely not the password"


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/v1/auth/login", json={"email": email, "password": password})


def _assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert not {"access_token", "refresh_token"} & body.keys()
    return body


async def _fail(client: httpx.AsyncClient, email: str, times: int) -> None:
    for attempt in range(times):
        response = await _login(client, email, WRONG)
        assert response.status_code == 401, f"attempt {attempt + 1}: {response.text}"


@pytest.fixture
async def account(client: httpx.AsyncClient, mailbox: Mailbox) -> Account:
    return await register(client, mailbox, "login@example.com")


async def test_login_returns_a_token_pair_with_the_documented_claims(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await _login(client, "Login@Example.com ", account.password)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert isinstance(body["refresh_token"], str) and len(body["refresh_token"]) >= 32
    assert body["refresh_token"].count(".") != 2  # opaque, not a JWT

    token = body["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert header["typ"] == "at+jwt"
    published = {key["kid"]: key for key in await fetch_jwks(client)}
    assert header["kid"] in published
    claims: dict[str, Any] = jwt.decode(
        token,
        public_key_from_jwk(published[header["kid"]]),
        algorithms=["RS256"],
        audience="tenantry",
        issuer=ISSUER,
        options={"require": ["iss", "sub", "aud", "iat", "exp", "jti"]},
    )
    assert claims["iss"] == ISSUER
    assert claims["sub"] == account.user_id
    assert claims["aud"] == "tenantry"
    assert claims["exp"] - claims["iat"] == 900
    assert isinstance(claims["jti"], str) and claims["jti"]
    assert claims["email"] == account.email
    assert claims["email_verified"] is True
    assert claims["tenant"] == account.tenant_id

    again = (await _login(client, account.email, account.password)).json()
    assert (
        jwt.decode(again["access_token"], options={"verify_signature": False})["jti"]
        != (claims["jti"])
    )
    assert again["refresh_token"] != body["refresh_token"]
    assert (await me_status(client, token)).status_code == 200


@pytest.mark.catalogue(8)
async def test_unknown_email_and_wrong_password_fail_identically(
    client: httpx.AsyncClient, account: Account
) -> None:
    wrong_password = await _login(client, account.email, WRONG)
    unknown_email = await _login(client, "nobody@example.com", WRONG)
    unknown_with_real_password = await _login(client, "nobody@example.com", account.password)
    malformed_email = await _login(client, "not an email", WRONG)

    body = _assert_problem(wrong_password, 401, "invalid_credentials")
    for other in (unknown_email, unknown_with_real_password, malformed_email):
        assert other.status_code == wrong_password.status_code
        assert other.json() == body
        assert other.headers["content-type"] == wrong_password.headers["content-type"]
        assert other.headers.get("www-authenticate") == wrong_password.headers.get(
            "www-authenticate"
        )


@pytest.mark.catalogue(6)
async def test_unconfirmed_account_is_told_only_after_the_correct_password(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    email = "pending@example.com"
    signup = await client.post("/v1/auth/signup", json={"email": email, "password": PASSWORD})
    assert signup.status_code == 202

    wrong = await _login(client, email, WRONG)
    unknown = await _login(client, "nobody@example.com", WRONG)
    right = await _login(client, email, PASSWORD)

    assert _assert_problem(wrong, 401, "invalid_credentials") == unknown.json()
    _assert_problem(right, 403, "email_not_confirmed")

    # Confirming makes the same password work.
    code = await mailbox.code_for(email)
    confirmed = await client.post("/v1/auth/confirm", json={"email": email, "code": code})
    assert confirmed.status_code == 200
    assert (await _login(client, email, PASSWORD)).status_code == 200


async def test_ten_failures_lock_the_account_even_for_the_right_password(
    client: httpx.AsyncClient, account: Account
) -> None:
    await _fail(client, account.email, MAX_FAILURES)

    locked = await _login(client, account.email, account.password)

    body = _assert_problem(locked, 429, "too_many_attempts")
    retry_after = int(locked.headers["retry-after"])
    assert 0 < retry_after <= WINDOW + 1
    # Still locked, whatever is tried, and the lock reveals nothing more.
    still = await _login(client, account.email, WRONG)
    assert (still.status_code, still.json()) == (429, body)
    other_case = await _login(client, account.email.upper(), account.password)
    assert (other_case.status_code, other_case.json()) == (429, body)
    # Existing sessions are not affected by a lockout.
    assert (await me_status(client, account.access_token)).status_code == 200


async def test_nine_failures_do_not_lock(client: httpx.AsyncClient, account: Account) -> None:
    await _fail(client, account.email, MAX_FAILURES - 1)
    assert (await _login(client, account.email, account.password)).status_code == 200


@pytest.mark.catalogue(8)
async def test_an_unknown_email_locks_exactly_like_a_known_one(
    client: httpx.AsyncClient, account: Account
) -> None:
    unknown = "nobody@example.com"
    await _fail(client, account.email, MAX_FAILURES)
    await _fail(client, unknown, MAX_FAILURES)

    known_locked = await _login(client, account.email, account.password)
    unknown_locked = await _login(client, unknown, account.password)

    assert known_locked.status_code == unknown_locked.status_code == 429
    assert known_locked.json() == unknown_locked.json()
    known_retry = int(known_locked.headers["retry-after"])
    unknown_retry = int(unknown_locked.headers["retry-after"])
    assert abs(known_retry - unknown_retry) <= 5
    # The lock is per account: another address is unaffected.
    assert (await _login(client, "someone-else@example.com", WRONG)).status_code == 401


@pytest.mark.catalogue(10)
async def test_the_lockout_ends_when_the_window_passes(
    client: httpx.AsyncClient, account: Account, clock: ShiftableClock
) -> None:
    await _fail(client, account.email, MAX_FAILURES)
    locked = await _login(client, account.email, account.password)
    assert locked.status_code == 429

    clock.advance(WINDOW - 60)
    assert (await _login(client, account.email, account.password)).status_code == 429

    clock.advance(60 + 1)
    response = await _login(client, account.email, account.password)
    assert response.status_code == 200, response.text
    # The counter started over: it takes ten fresh failures to lock again.
    await _fail(client, account.email, MAX_FAILURES - 1)
    assert (await _login(client, account.email, account.password)).status_code == 200


@pytest.mark.catalogue(10)
async def test_failures_outside_the_window_start_a_new_count(
    client: httpx.AsyncClient, account: Account, clock: ShiftableClock
) -> None:
    await _fail(client, account.email, MAX_FAILURES - 1)
    clock.advance(WINDOW + 1)
    await _fail(client, account.email, MAX_FAILURES - 1)
    assert (await _login(client, account.email, account.password)).status_code == 200


async def test_a_successful_login_resets_the_failure_count(
    client: httpx.AsyncClient, account: Account
) -> None:
    await _fail(client, account.email, MAX_FAILURES - 1)
    assert (await _login(client, account.email, account.password)).status_code == 200
    # Without the reset, the second round of failures would have hit the lock on its 2nd try.
    await _fail(client, account.email, MAX_FAILURES - 1)
    assert (await _login(client, account.email, account.password)).status_code == 200


ROUNDS = 5


async def _cpu_cost(request: Awaitable[httpx.Response]) -> tuple[float, httpx.Response]:
    """CPU seconds the whole process spent on `request`: Argon2 runs on a thread pool, and
    CPU time, unlike the wall clock, does not grow with the machine's load."""
    started = time.process_time()
    response = await request
    return time.process_time() - started, response


@pytest.mark.catalogue(8)
async def test_unknown_and_unconfirmed_accounts_cost_one_password_verification_too(
    settings: Settings, clock: ShiftableClock, mailbox: Mailbox
) -> None:
    """Timing (catalogue 8) without a wall clock: a wrong password, an unknown address and an
    unconfirmed account each cost one Argon2 verification of CPU, and a locked-out address is
    refused unchecked whether it has an account or not."""
    # Argon2 at the shipped defaults (the other tests hash cheaper), where one verification
    # dwarfs the rest of a login's CPU work; a lower allowance keeps the rounds few.
    async with client_with(
        settings, clock, argon2_memory_kib=19_456, argon2_time_cost=2, login_max_failures=ROUNDS
    ) as client:
        known = await register(client, mailbox, "known@example.com")
        await client.post(
            "/v1/auth/signup", json={"email": "pending@example.com", "password": PASSWORD}
        )
        await mailbox.wait_for("pending@example.com")  # no mail work left to measure
        attempts = {
            "wrong password": known.email,
            "unknown email": "nobody@example.com",
            "unconfirmed account": "pending@example.com",
        }
        checked: dict[str, list[float]] = {name: [] for name in attempts}
        refused: dict[str, list[float]] = {name: [] for name in attempts}
        answers: set[tuple[int, bytes]] = set()
        # Interleaved, so that whatever else the machine does touches every kind alike. The
        # first rounds are checked; after them every address is locked out.
        for round_ in range(2 * ROUNDS):
            for name, email in attempts.items():
                cost, response = await _cpu_cost(_login(client, email, WRONG))
                (checked if round_ < ROUNDS else refused)[name].append(cost)
                answers.add((response.status_code, response.content))

    assert {status for status, _ in answers} == {401, 429}
    assert len(answers) == 2, answers  # one body per status, whatever the account's state
    verifying = {name: statistics.median(costs) for name, costs in checked.items()}
    unchecked = {name: statistics.median(costs) for name, costs in refused.items()}
    # Measured about 10x apart (33 ms against 3 ms); the bounds leave room for noise.
    assert max(verifying.values()) <= 2 * min(verifying.values()), verifying
    assert max(unchecked.values()) * 3 <= min(verifying.values()), (verifying, unchecked)
