"""Sign-up, email codes and confirmation (SPEC §4, §5; security catalogue 1-4, 7, 12;
parallel sign-ups, catalogue 5, are in test_races.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy import func, select

from tenantry.bootstrap import Container
from tenantry.storage.models import Environment, Membership, Project, Tenant, User
from tests.support.api import PASSWORD, bearer, register
from tests.support.clock import ShiftableClock
from tests.support.counts import ONE_WORKSPACE, workspace_counts
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.integration


async def test_sign_up_and_confirm_creates_the_workspace(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    account = await register(client, mailbox, "ann@example.com", name="Ann")

    me = (await client.get("/v1/me", headers=bearer(account.access_token))).json()
    assert me["email"] == "ann@example.com"
    assert me["email_verified"] is True
    assert me["memberships"] == [
        {
            "tenant_id": account.tenant_id,
            "tenant_name": "Ann's workspace",
            "tenant_kind": "personal",
            "tenant_status": "active",
            "role": "owner",
            "plan": "free",
        }
    ]
    projects = (await client.get("/v1/projects", headers=account.headers())).json()
    assert [p["name"] for p in projects["items"]] == ["My first project"]
    project_id = projects["items"][0]["id"]
    environments = (
        await client.get(f"/v1/projects/{project_id}/environments", headers=account.headers())
    ).json()["items"]
    assert sorted(e["slug"] for e in environments) == ["development", "production"]
    for environment in environments:
        assert environment["client_key"] in environment["snippet"]


@pytest.mark.catalogue(4)
async def test_sign_up_answers_the_same_for_new_and_existing_emails(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container
) -> None:
    await register(client, mailbox, "known@example.com")
    body = {"password": PASSWORD, "name": "X"}
    new = await client.post("/v1/auth/signup", json={"email": "fresh@example.com", **body})
    known = await client.post("/v1/auth/signup", json={"email": "KNOWN@Example.com", **body})

    assert (new.status_code, new.headers["content-type"], new.content) == (
        known.status_code,
        known.headers["content-type"],
        known.content,
    )
    assert new.json() == {"status": "confirmation_required"}
    notice = await mailbox.wait_for("known@example.com", count=2)
    assert "already has an account" in notice.text
    async with container.db.read() as session:
        count = await session.scalar(
            select(func.count()).select_from(User).where(User.email_key == "known@example.com")
        )
    assert count == 1


@pytest.mark.catalogue(1, 2, 3)
@pytest.mark.parametrize(
    ("password", "accepted"),
    [
        ("short", False),
        ("elevenchars", False),
        ("password1234", False),  # in the shipped common-password list
        ("ann.lee-is-my-name", False),  # contains the email's local part
        ("x" * 64, True),
        ("Z" * 1024, True),
        ("Z" * 1025, False),
        ("PassWord1234", False),  # the list is compared case-folded
        ("ünïcödé 🔐 spaces ok", True),
        ("     🔐🔐🔐     ", True),  # spaces and emoji only: not stripped to 3 characters
    ],
)
async def test_password_policy(client: httpx.AsyncClient, password: str, accepted: bool) -> None:
    response = await client.post(
        "/v1/auth/signup", json={"email": "ann.lee@example.com", "password": password}
    )
    if accepted:
        assert response.status_code == 202, response.text
    else:
        assert response.status_code == 422
        assert response.json()["code"] == "weak_password"


@pytest.mark.catalogue(2)
async def test_passwords_are_compared_byte_exact_and_never_truncated(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    # 1,009 characters, 4,000+ bytes of UTF-8: far past bcrypt's 72 bytes.
    password = "  caf\u00e9 🔐 " + "🙂" * 1000 + " "
    email = "bytes@example.com"
    await register(client, mailbox, email, password=password)
    near_misses = {
        "last character cut": password[:-1],
        "last emoji changed": password[:-2] + "🙃 ",
        "decomposed accent (NFD)": password.replace("\u00e9", "e\u0301"),
        "outer spaces stripped": password.strip(),
        "inner spaces collapsed": " ".join(password.split()),
        "case changed": password.upper(),
        "first 72 bytes": password.encode()[:72].decode(errors="ignore"),
    }

    accepted = {
        name: status
        for name, other in near_misses.items()
        if (status := (await _login(client, email, other)).status_code) != 401
    }

    assert accepted == {}
    assert (await _login(client, email, password)).status_code == 200


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/v1/auth/login", json={"email": email, "password": password})


@pytest.mark.catalogue(12)
async def test_wrong_code_is_rejected_and_five_tries_burn_it(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await client.post("/v1/auth/signup", json={"email": "b@example.com", "password": PASSWORD})
    code = await mailbox.code_for("b@example.com")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        response = await client.post(
            "/v1/auth/confirm", json={"email": "b@example.com", "code": wrong}
        )
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_code"
    burned = await client.post("/v1/auth/confirm", json={"email": "b@example.com", "code": code})
    assert burned.status_code == 400
    assert burned.json()["code"] == "invalid_code"


@pytest.mark.catalogue(12)
async def test_codes_are_single_use(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    await client.post("/v1/auth/signup", json={"email": "c@example.com", "password": PASSWORD})
    code = await mailbox.code_for("c@example.com")
    first = await client.post("/v1/auth/confirm", json={"email": "c@example.com", "code": code})
    again = await client.post("/v1/auth/confirm", json={"email": "c@example.com", "code": code})
    assert first.status_code == 200
    assert (again.status_code, again.json()["code"]) == (400, "invalid_code")


@pytest.mark.catalogue(12)
async def test_codes_expire_after_ten_minutes(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ShiftableClock
) -> None:
    await client.post("/v1/auth/signup", json={"email": "d@example.com", "password": PASSWORD})
    code = await mailbox.code_for("d@example.com")
    clock.advance(601)
    response = await client.post("/v1/auth/confirm", json={"email": "d@example.com", "code": code})
    assert (response.status_code, response.json()["code"]) == (400, "invalid_code")


async def test_a_new_code_supersedes_the_previous_one(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await client.post("/v1/auth/signup", json={"email": "e@example.com", "password": PASSWORD})
    old = await mailbox.code_for("e@example.com")
    await client.post("/v1/auth/email-code", json={"email": "e@example.com"})
    new = await mailbox.code_for("e@example.com", count=2)
    stale = await client.post("/v1/auth/confirm", json={"email": "e@example.com", "code": old})
    fresh = await client.post("/v1/auth/confirm", json={"email": "e@example.com", "code": new})
    assert stale.status_code == 400 or old == new
    assert fresh.status_code == 200


async def test_passwordless_code_signs_up_then_signs_in(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container
) -> None:
    for attempt in (1, 2):
        response = await client.post("/v1/auth/email-code", json={"email": "f@example.com"})
        assert response.status_code == 202
        code = await mailbox.code_for("f@example.com", count=attempt)
        tokens = await client.post(
            "/v1/auth/confirm", json={"email": "f@example.com", "code": code}
        )
        assert tokens.status_code == 200
    async with container.db.read() as session:
        tenants = await session.scalar(select(func.count()).select_from(Tenant))
    assert tenants == 1


async def test_confirm_with_password_sets_one_for_a_passwordless_account(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await client.post("/v1/auth/email-code", json={"email": "g@example.com"})
    code = await mailbox.code_for("g@example.com")
    confirmed = await client.post(
        "/v1/auth/confirm", json={"email": "g@example.com", "code": code, "password": PASSWORD}
    )
    assert confirmed.status_code == 200
    login = await client.post(
        "/v1/auth/login", json={"email": "g@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200


VICTIM = "victim@example.com"
VICTIM_PASSWORD = "my own secret passphrase 9"
ATTACKER_PASSWORD = "attacker chose this one"


async def _victim_confirms_by_signing_up(client: httpx.AsyncClient, mailbox: Mailbox) -> str | None:
    await client.post("/v1/auth/signup", json={"email": VICTIM, "password": VICTIM_PASSWORD})
    code = await mailbox.code_for(VICTIM, count=2)
    confirmed = await client.post("/v1/auth/confirm", json={"email": VICTIM, "code": code})
    assert confirmed.status_code == 200, confirmed.text
    return VICTIM_PASSWORD


async def _victim_confirms_with_an_email_code(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> str | None:
    """Passwordless: the account is left with no password at all."""
    await client.post("/v1/auth/email-code", json={"email": VICTIM})
    code = await mailbox.code_for(VICTIM, count=2)
    confirmed = await client.post("/v1/auth/confirm", json={"email": VICTIM, "code": code})
    assert confirmed.status_code == 200, confirmed.text
    return None


async def _victim_resets_the_password(client: httpx.AsyncClient, mailbox: Mailbox) -> str | None:
    await client.post("/v1/auth/password/forgot", json={"email": VICTIM})
    code = await mailbox.code_for(VICTIM, count=2)
    reset = await client.post(
        "/v1/auth/password/reset",
        json={"email": VICTIM, "code": code, "password": VICTIM_PASSWORD},
    )
    assert reset.status_code == 204, reset.text
    return VICTIM_PASSWORD


@pytest.mark.catalogue(7)
@pytest.mark.parametrize(
    "victim_takes_over",
    [
        _victim_confirms_by_signing_up,
        _victim_confirms_with_an_email_code,
        _victim_resets_the_password,
    ],
)
async def test_a_pre_hijacked_account_is_the_victims_alone_once_they_prove_the_address(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    container: Container,
    victim_takes_over: Callable[[httpx.AsyncClient, Mailbox], Awaitable[str | None]],
) -> None:
    signed_up = await client.post(
        "/v1/auth/signup", json={"email": VICTIM, "password": ATTACKER_PASSWORD}
    )
    assert signed_up.status_code == 202
    # Before confirmation the attacker's password earns no tokens, only a 403.
    early = await _login(client, VICTIM, ATTACKER_PASSWORD)
    assert (early.status_code, early.json()["code"]) == (403, "email_not_confirmed")
    assert "access_token" not in early.json()

    password = await victim_takes_over(client, mailbox)

    attacker = await _login(client, VICTIM, ATTACKER_PASSWORD)
    assert (attacker.status_code, attacker.json()["code"]) == (401, "invalid_credentials")
    if password is not None:
        victim = await _login(client, VICTIM, password)
        assert victim.status_code == 200, victim.text
    assert await workspace_counts(container.db) == ONE_WORKSPACE


async def test_onboarding_rows_are_exactly_one_set(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container
) -> None:
    await register(client, mailbox, "h@example.com")
    async with container.db.read() as session:
        counts = [
            await session.scalar(select(func.count()).select_from(model))
            for model in (User, Tenant, Membership, Project, Environment)
        ]
    assert counts == [1, 1, 1, 1, 2]
