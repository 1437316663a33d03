"""Refresh-token rotation, logout, password reset/change and disabling a tenant or a user, with
the revocations each must cause (SPEC §4; security catalogue 12, 18, 20)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tenantry.bootstrap import Container
from tenantry.storage.models import MailMessage
from tests.support.api import Account, bearer, create_organization, register
from tests.support.clock import ShiftableClock
from tests.support.mailbox import Mailbox
from tests.support.tokens import assert_unauthenticated, me_status

pytestmark = pytest.mark.integration

NEW_PASSWORD = "a brand new passphrase 42"
DAY = 86_400


@dataclass(frozen=True)
class Pair:
    access_token: str
    refresh_token: str


async def _login(client: httpx.AsyncClient, email: str, password: str) -> Pair:
    response = await client.post("/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return Pair(body["access_token"], body["refresh_token"])


async def _refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post("/v1/auth/refresh", json={"refresh_token": refresh_token})


async def _refreshed(client: httpx.AsyncClient, refresh_token: str) -> Pair:
    response = await _refresh(client, refresh_token)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return Pair(body["access_token"], body["refresh_token"])


async def _assert_refresh_dead(client: httpx.AsyncClient, refresh_token: str) -> None:
    response = await _refresh(client, refresh_token)
    assert_unauthenticated(response, "invalid_refresh_token")


async def _assert_access_dead(client: httpx.AsyncClient, access_token: str) -> None:
    assert_unauthenticated(await me_status(client, access_token))


async def _assert_access_live(client: httpx.AsyncClient, access_token: str) -> None:
    response = await me_status(client, access_token)
    assert response.status_code == 200, response.text


def _pair(account: Account) -> Pair:
    return Pair(account.access_token, account.refresh_token)


@pytest.fixture
async def account(client: httpx.AsyncClient, mailbox: Mailbox) -> Account:
    return await register(client, mailbox, "sessions@example.com")


async def _reset_code(client: httpx.AsyncClient, mailbox: Mailbox, email: str) -> str:
    before = len(mailbox.messages(email))
    response = await client.post("/v1/auth/password/forgot", json={"email": email})
    assert response.status_code == 202, response.text
    return await mailbox.code_for(email, count=before + 1)


async def _reset(
    client: httpx.AsyncClient, email: str, code: str, password: str = NEW_PASSWORD
) -> httpx.Response:
    return await client.post(
        "/v1/auth/password/reset", json={"email": email, "code": code, "password": password}
    )


async def _change(
    client: httpx.AsyncClient, access_token: str, current: str, new: str = NEW_PASSWORD
) -> httpx.Response:
    return await client.post(
        "/v1/auth/password/change",
        json={"current_password": current, "password": new},
        headers=bearer(access_token),
    )


# --- refresh rotation (18) -------------------------------------------------------------------


async def test_refresh_returns_a_working_new_pair_and_retires_the_old_refresh_token(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await _refresh(client, account.refresh_token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "Bearer"
    assert body["refresh_token"] != account.refresh_token
    assert body["access_token"] != account.access_token
    await _assert_access_live(client, body["access_token"])
    # The new refresh token rotates again.
    third = await _refreshed(client, body["refresh_token"])
    await _assert_access_live(client, third.access_token)


@pytest.mark.catalogue(18)
async def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(
    client: httpx.AsyncClient, account: Account
) -> None:
    rt1 = account.refresh_token
    second = await _refreshed(client, rt1)
    third = await _refreshed(client, second.refresh_token)
    await _assert_access_live(client, third.access_token)

    await _assert_refresh_dead(client, rt1)  # theft detected

    await _assert_refresh_dead(client, third.refresh_token)  # the newest token too
    await _assert_refresh_dead(client, second.refresh_token)
    for access in (account.access_token, second.access_token, third.access_token):
        await _assert_access_dead(client, access)


async def test_reuse_revokes_only_the_family_concerned(
    client: httpx.AsyncClient, account: Account
) -> None:
    other = await _login(client, account.email, account.password)
    await _refreshed(client, account.refresh_token)
    await _assert_refresh_dead(client, account.refresh_token)

    await _assert_access_live(client, other.access_token)
    await _assert_access_live(client, (await _refreshed(client, other.refresh_token)).access_token)


@pytest.mark.parametrize("token", ["", "rt_unknown", "x" * 200])
async def test_unknown_refresh_tokens_are_rejected(
    client: httpx.AsyncClient, account: Account, token: str
) -> None:
    response = await _refresh(client, token)
    assert response.status_code in {401, 422}
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "access_token" not in response.json()
    await _assert_access_live(client, account.access_token)


async def test_an_access_token_is_not_a_refresh_token(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await _refresh(client, account.access_token)
    # A JWT is longer than any refresh token, so input validation may refuse it first.
    assert response.status_code in {401, 422}, response.text
    assert "access_token" not in response.json()
    # ... and presenting it revoked nothing.
    await _assert_access_live(
        client, (await _refreshed(client, account.refresh_token)).access_token
    )


async def test_refresh_tokens_have_an_absolute_lifetime(
    client: httpx.AsyncClient, account: Account, clock: ShiftableClock
) -> None:
    clock.advance(29 * DAY)
    fresh = await _refreshed(client, account.refresh_token)  # rotation does not extend it
    await _assert_access_live(client, fresh.access_token)
    clock.advance(DAY + 1)
    await _assert_refresh_dead(client, fresh.refresh_token)
    await _assert_access_dead(client, fresh.access_token)


# --- logout (20) -----------------------------------------------------------------------------


@pytest.mark.catalogue(20)
async def test_logout_revokes_refresh_and_access_tokens_of_that_session_at_once(
    client: httpx.AsyncClient, account: Account
) -> None:
    other = await _login(client, account.email, account.password)
    rotated = await _refreshed(client, account.refresh_token)
    await _assert_access_live(client, rotated.access_token)

    response = await client.post("/v1/auth/logout", json={"refresh_token": rotated.refresh_token})

    assert response.status_code == 204
    assert response.content == b""
    await _assert_refresh_dead(client, rotated.refresh_token)
    await _assert_access_dead(client, rotated.access_token)
    await _assert_access_dead(client, account.access_token)  # same family, earlier token
    # Another session of the same user is untouched.
    await _assert_access_live(client, other.access_token)
    await _assert_access_live(client, (await _refreshed(client, other.refresh_token)).access_token)


async def test_logout_with_an_unknown_or_used_token_answers_204(
    client: httpx.AsyncClient, account: Account
) -> None:
    unknown = await client.post("/v1/auth/logout", json={"refresh_token": "rt_nothing"})
    assert unknown.status_code == 204
    await client.post("/v1/auth/logout", json={"refresh_token": account.refresh_token})
    again = await client.post("/v1/auth/logout", json={"refresh_token": account.refresh_token})
    assert again.status_code == 204


# --- forgot / reset (12, 20) -----------------------------------------------------------------


async def test_forgot_password_answers_alike_and_mails_only_known_accounts(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container, account: Account
) -> None:
    unknown = await client.post("/v1/auth/password/forgot", json={"email": "nobody@example.com"})
    known = await client.post("/v1/auth/password/forgot", json={"email": account.email})
    other_case = await client.post(
        "/v1/auth/password/forgot", json={"email": account.email.upper()}
    )

    assert unknown.status_code == known.status_code == other_case.status_code == 202
    assert unknown.json() == known.json() == other_case.json()
    assert unknown.headers["content-type"] == known.headers["content-type"]
    await mailbox.wait_for(account.email, count=3)  # the confirmation mail, then two codes
    async with container.db.read() as session:
        recipients = set(await session.scalars(select(MailMessage.recipient)))
    assert recipients == {account.email}
    await asyncio.sleep(0.1)
    assert mailbox.messages("nobody@example.com") == []


@pytest.mark.catalogue(20)
async def test_password_reset_kills_every_session_and_access_token(
    client: httpx.AsyncClient, mailbox: Mailbox, account: Account
) -> None:
    second = await _login(client, account.email, account.password)
    rotated = await _refreshed(client, second.refresh_token)
    sessions = [_pair(account), rotated]
    for pair in sessions:
        await _assert_access_live(client, pair.access_token)

    code = await _reset_code(client, mailbox, account.email)
    response = await _reset(client, account.email, code)

    assert response.status_code == 204, response.text
    for pair in [*sessions, second]:
        await _assert_access_dead(client, pair.access_token)
        await _assert_refresh_dead(client, pair.refresh_token)
    old = await client.post(
        "/v1/auth/login", json={"email": account.email, "password": account.password}
    )
    assert_unauthenticated(old, "invalid_credentials")
    fresh = await _login(client, account.email, NEW_PASSWORD)
    await _assert_access_live(client, fresh.access_token)
    await _assert_access_live(client, (await _refreshed(client, fresh.refresh_token)).access_token)


@pytest.mark.catalogue(12)
async def test_reset_rejects_wrong_expired_and_reused_codes(
    client: httpx.AsyncClient, mailbox: Mailbox, account: Account, clock: ShiftableClock
) -> None:
    code = await _reset_code(client, mailbox, account.email)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for bad in (wrong, "abcdef", ""):
        response = await _reset(client, account.email, bad)
        assert response.status_code in {400, 422}, response.text
        if response.status_code == 400:
            assert response.json()["code"] == "invalid_code"
    wrong_try = await _reset(client, account.email, wrong)
    assert (wrong_try.status_code, wrong_try.json()["code"]) == (400, "invalid_code")
    # The code belongs to its address only.
    elsewhere = await _reset(client, "nobody@example.com", code)
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (400, "invalid_code")

    assert (await _reset(client, account.email, code)).status_code == 204
    reused = await _reset(client, account.email, code, password="yet another passphrase 7")
    assert (reused.status_code, reused.json()["code"]) == (400, "invalid_code")
    await _login(client, account.email, NEW_PASSWORD)  # the reuse changed nothing

    expiring = await _reset_code(client, mailbox, account.email)
    clock.advance(601)
    expired = await _reset(client, account.email, expiring, password="yet another passphrase 7")
    assert (expired.status_code, expired.json()["code"]) == (400, "invalid_code")
    await _login(client, account.email, NEW_PASSWORD)


@pytest.mark.catalogue(12)
async def test_sixth_try_burns_a_reset_code(
    client: httpx.AsyncClient, mailbox: Mailbox, account: Account
) -> None:
    code = await _reset_code(client, mailbox, account.email)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert (await _reset(client, account.email, wrong)).status_code == 400
    burned = await _reset(client, account.email, code)
    assert (burned.status_code, burned.json()["code"]) == (400, "invalid_code")
    await _login(client, account.email, account.password)


async def test_reset_with_a_weak_password_is_refused_and_keeps_the_code(
    client: httpx.AsyncClient, mailbox: Mailbox, account: Account
) -> None:
    code = await _reset_code(client, mailbox, account.email)
    for weak in ("short", "password1234", "sessions-and-more"):
        response = await _reset(client, account.email, code, password=weak)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "weak_password"
    await _assert_access_live(client, account.access_token)
    assert (await _reset(client, account.email, code)).status_code == 204


# --- change (20) -----------------------------------------------------------------------------


@pytest.mark.catalogue(20)
async def test_password_change_keeps_the_callers_session_and_kills_the_others(
    client: httpx.AsyncClient, account: Account
) -> None:
    other = await _login(client, account.email, account.password)
    third = await _login(client, account.email, account.password)
    mine = await _refreshed(client, account.refresh_token)

    response = await _change(client, mine.access_token, account.password)

    assert response.status_code == 204, response.text
    for pair in (other, third):
        await _assert_access_dead(client, pair.access_token)
        await _assert_refresh_dead(client, pair.refresh_token)
    await _assert_access_live(client, mine.access_token)
    await _assert_access_live(client, (await _refreshed(client, mine.refresh_token)).access_token)
    old = await client.post(
        "/v1/auth/login", json={"email": account.email, "password": account.password}
    )
    assert_unauthenticated(old, "invalid_credentials")
    await _login(client, account.email, NEW_PASSWORD)


async def test_password_change_with_the_wrong_current_password_is_refused(
    client: httpx.AsyncClient, account: Account
) -> None:
    other = await _login(client, account.email, account.password)
    response = await _change(client, account.access_token, "not my password at all")

    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_credentials"
    await _assert_access_live(client, other.access_token)
    await _login(client, account.email, account.password)


async def test_password_change_with_a_weak_password_is_refused(
    client: httpx.AsyncClient, account: Account
) -> None:
    other = await _login(client, account.email, account.password)
    for weak in ("short", "password1234", "my sessions pass"):
        response = await _change(client, account.access_token, account.password, weak)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "weak_password"
    await _assert_access_live(client, other.access_token)
    await _login(client, account.email, account.password)


async def test_password_change_requires_a_live_access_token(
    client: httpx.AsyncClient, account: Account
) -> None:
    anonymous = await client.post(
        "/v1/auth/password/change",
        json={"current_password": account.password, "password": NEW_PASSWORD},
    )
    assert_unauthenticated(anonymous)
    await client.post("/v1/auth/logout", json={"refresh_token": account.refresh_token})
    revoked = await _change(client, account.access_token, account.password)
    assert_unauthenticated(revoked)
    await _login(client, account.email, account.password)


async def test_wrong_current_passwords_count_toward_the_lockout(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register(client, mailbox, "locked@example.com")
    body = {"current_password": "not my password at all", "password": "brand new password 1"}
    statuses = await asyncio.gather(
        *(
            client.post("/v1/auth/password/change", headers=bearer(account.access_token), json=body)
            for _ in range(12)
        )
    )
    assert sorted(response.status_code for response in statuses) == [403] * 10 + [429] * 2
    right = {**body, "current_password": account.password}
    refused = await client.post(
        "/v1/auth/password/change", headers=bearer(account.access_token), json=right
    )
    assert refused.status_code == 429  # the session's allowance, even for the right password
    # The guesses were the session's: the owner's device still signs in (docs/security.md).
    login = await client.post(
        "/v1/auth/login", json={"email": account.email, "password": account.password}
    )
    assert login.status_code == 200


# --- tenant and user disable (20) ------------------------------------------------------------


def _in_tenant(access_token: str, tenant_id: str) -> dict[str, str]:
    return {**bearer(access_token), "X-Tenant-ID": tenant_id}


@pytest.mark.catalogue(20)
async def test_disabling_a_tenant_shuts_every_token_out_of_it_at_once(
    client: httpx.AsyncClient, account: Account, operator: Account
) -> None:
    """A session spans all of its user's tenants, so disabling one tenant ends no session:
    every access token, old or refreshed after the disable, is refused in that tenant, and
    the user keeps their other tenants."""
    acme = await create_organization(client, account, "Acme")
    other = await _login(client, account.email, account.password)
    for access in (account.access_token, other.access_token):
        response = await client.get("/v1/tenant", headers=_in_tenant(access, acme))
        assert response.status_code == 200, response.text

    disabled = await client.post(
        f"/v1/admin/tenants/{acme}/disable", headers=bearer(operator.access_token)
    )

    assert disabled.status_code == 200, disabled.text
    refreshed = await _refreshed(client, other.refresh_token)
    for access in (account.access_token, other.access_token, refreshed.access_token):
        response = await client.get("/v1/tenant", headers=_in_tenant(access, acme))
        assert (response.status_code, response.json()["code"]) == (403, "tenant_disabled")
        personal = await client.get("/v1/tenant", headers=_in_tenant(access, account.tenant_id))
        assert personal.status_code == 200, personal.text


@pytest.mark.catalogue(20)
async def test_disabling_a_user_kills_their_refresh_and_access_tokens_at_once(
    client: httpx.AsyncClient, account: Account, operator: Account
) -> None:
    other = await _login(client, account.email, account.password)
    rotated = await _refreshed(client, other.refresh_token)

    disabled = await client.post(
        f"/v1/admin/users/{account.user_id}/disable", headers=bearer(operator.access_token)
    )

    assert disabled.status_code == 204, disabled.text
    for pair in (_pair(account), rotated):
        await _assert_access_dead(client, pair.access_token)
        in_tenant = await client.get(
            "/v1/tenant", headers=_in_tenant(pair.access_token, account.tenant_id)
        )
        assert_unauthenticated(in_tenant)
        await _assert_refresh_dead(client, pair.refresh_token)
    await _assert_refresh_dead(client, other.refresh_token)
