"""Self-service registration (SPEC §8): pending until the owner confirms the mailed code, then
a tenant on the chosen plan with its store; a failing step leaves nothing behind."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tenantry.bootstrap import Container
from tenantry.settings import Settings
from tenantry.storage.models import DomainEvent, Membership, Registration, Tenant
from tenantry.transports.rest.app import create_app
from tests.support.api import PASSWORD, Account, bearer
from tests.support.clock import ShiftableClock
from tests.support.counts import count_rows
from tests.support.mailbox import Mailbox
from tests.support.silos import postgres_silos, silo_present

pytestmark = pytest.mark.integration
EMAIL = "founder@example.com"
# The shipped catalog opens no silo plan to self-service; a deployment may open one.
DEDICATED = """
[plans.dedicated]
name = "Dedicated"
self_service = true
isolation = "silo"
monthly_price_cents = 19900
features = { webhooks = true, audit_log = true, sso = false, experiments = true }
limits = {}
"""


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The shipped catalog plus a self-service silo plan, `dedicated`."""
    catalog = tmp_path / "plans.toml"
    shipped = resources.files("tenantry.domain.plans").joinpath("plans.toml").read_text()
    catalog.write_text(shipped + DEDICATED)
    return settings.model_copy(update={"plans_file": catalog})


def registration(plan: str, *, email: str = EMAIL, tenant_name: str = "Globex") -> dict[str, Any]:
    return {
        "tenant_name": tenant_name,
        "email": email,
        "name": "Hank Scorpio",
        "password": PASSWORD,
        "plan": plan,
    }


async def start(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/registrations", json=body)
    assert response.status_code == 202, response.text
    started: dict[str, Any] = response.json()
    assert started["status"] == "pending"
    return started


async def confirm(
    client: httpx.AsyncClient, mailbox: Mailbox, email: str = EMAIL, *, nth: int = 1
) -> dict[str, Any]:
    code = await mailbox.code_for(email, count=nth)
    response = await client.post("/v1/auth/confirm", json={"email": email, "code": code})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def status_of(client: httpx.AsyncClient, registration_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/registrations/{registration_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(("plan", "isolation"), [("basic", "pool"), ("dedicated", "silo")])
async def test_confirmation_completes_the_registration(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox, plan: str, isolation: str
) -> None:
    started = await start(client, registration(plan))
    assert (await status_of(client, started["id"]))["status"] == "pending"
    assert "Globex" in (await mailbox.wait_for(EMAIL)).text

    tokens = await confirm(client, mailbox)

    done = await status_of(client, started["id"])
    assert done["status"] == "completed", done
    tenant_id = done["tenant_id"]
    me = (await client.get("/v1/me", headers=bearer(tokens["access_token"]))).json()
    roles = {m["tenant_id"]: (m["role"], m["tenant_kind"], m["plan"]) for m in me["memberships"]}
    assert roles[tenant_id] == ("owner", "organization", plan)
    assert sorted(kind for _, kind, _ in roles.values()) == ["organization", "personal"]
    assert me["default_tenant_id"] == tenant_id
    headers = {**bearer(tokens["access_token"]), "X-Tenant-ID": tenant_id}
    tenant = (await client.get("/v1/tenant", headers=headers)).json()
    assert (tenant["name"], tenant["plan"], tenant["isolation"]) == ("Globex", plan, isolation)
    assert await silo_present(container, tenant_id) is (isolation == "silo")
    assert await count_rows(container.db, DomainEvent, DomainEvent.type == "registration.completed")


async def test_the_password_given_at_registration_signs_the_new_owner_in(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await start(client, registration("free"))
    await confirm(client, mailbox)
    login = await client.post("/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert login.status_code == 200, login.text


async def test_plans_closed_to_self_service_and_unknown_plans_are_refused(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox
) -> None:
    for paid in ("standard", "premium", "platinum"):  # a platform admin's or HubSpot's
        closed = await client.post("/v1/registrations", json=registration(paid))
        assert closed.status_code == 422
        assert closed.json()["code"] == "plan_not_self_service"
    unknown = await client.post("/v1/registrations", json=registration("gold"))
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_plan"
    assert await count_rows(container.db, Registration) == 0
    assert mailbox.messages(EMAIL) == []


async def test_an_unknown_registration_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v1/registrations/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["code"] == "registration_not_found"


async def test_an_existing_account_registers_with_its_code_and_keeps_its_password(
    client: httpx.AsyncClient, mailbox: Mailbox, ann: Account
) -> None:
    fresh = await start(client, registration("basic", email="new@example.com"))
    existing = await start(
        client, {**registration("basic", email=ann.email), "password": "another long password"}
    )
    assert fresh.keys() == existing.keys()  # the answer does not tell accounts apart

    await confirm(client, mailbox, ann.email, nth=2)

    assert (await status_of(client, existing["id"]))["status"] == "completed"
    kept = await client.post("/v1/auth/login", json={"email": ann.email, "password": PASSWORD})
    assert kept.status_code == 200
    taken = await client.post(
        "/v1/auth/login", json={"email": ann.email, "password": "another long password"}
    )
    assert taken.status_code == 401


@pytest.mark.parametrize("plan", ["basic", "dedicated"])
@pytest.mark.parametrize("step", ["reserve", "store", "activate"])
async def test_a_failing_step_is_compensated_and_reported(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox, step: str, plan: str
) -> None:
    started = await start(client, registration(plan))
    container.faults.armed = f"provisioning.{step}"

    tokens = await confirm(client, mailbox)  # the account itself is confirmed regardless

    failed = await status_of(client, started["id"])
    assert failed["status"] == "failed"
    assert failed["failure_reason"].startswith(f"{step}:")
    assert failed["tenant_id"] is None
    me = (await client.get("/v1/me", headers=bearer(tokens["access_token"]))).json()
    assert [m["tenant_kind"] for m in me["memberships"]] == ["personal"]
    assert await count_rows(container.db, Tenant, Tenant.kind == "organization") == 0
    assert await count_rows(container.db, Membership) == 1
    async with container.db.read() as session:
        claimed = await session.scalar(select(Registration.tenant_id))
    assert claimed is None
    assert not list((container.settings.data_dir / "silos").glob("*.db"))
    assert not await postgres_silos(container)
    assert await count_rows(container.db, DomainEvent, DomainEvent.type == "registration.failed")


async def test_raced_completions_provision_one_tenant(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox, ann: Account
) -> None:
    started = await start(client, registration("dedicated", email=ann.email))
    user_id = uuid.UUID(ann.user_id)

    await asyncio.gather(*(container.registrations.complete_pending(user_id) for _ in range(4)))

    assert (await status_of(client, started["id"]))["status"] == "completed"
    assert await count_rows(container.db, Tenant, Tenant.kind == "organization") == 1
    assert await count_rows(container.db, Tenant, Tenant.status == "provisioning") == 0


async def test_a_registration_not_confirmed_in_time_expires(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox, clock: ShiftableClock
) -> None:
    started = await start(client, registration("basic"))
    clock.advance(25 * 3600)

    expired = await status_of(client, started["id"])
    assert expired["status"] == "failed"
    assert expired["failure_reason"].startswith("expired")
    await client.post("/v1/auth/email-code", json={"email": EMAIL})
    await confirm(client, mailbox, nth=2)
    assert await count_rows(container.db, Tenant, Tenant.kind == "organization") == 0


async def test_an_interrupted_provisioning_is_undone_by_the_recovery_sweep(
    container: Container, clock: ShiftableClock, mailbox: Mailbox
) -> None:
    """A crash after the silo was made leaves a reservation; the sweep removes both."""
    plan = container.plans.get("premium")
    tenant_id = uuid.uuid4()
    async with container.db.transaction() as session:
        now = clock.now()
        session.add(
            Tenant(
                id=tenant_id,
                name="Crashed",
                kind="organization",
                plan=plan.id,
                status="provisioning",
                isolation="silo",
                profile={},
                extra_metadata={},
                feature_overrides={},
                created_at=now,
                updated_at=now,
            )
        )
    await container.stores.silos.create(tenant_id)
    assert await container.provisioner.recover_stalled() == 0  # not stalled yet
    clock.advance(16 * 60)

    assert await container.provisioner.recover_stalled() == 1

    assert await count_rows(container.db, Tenant, Tenant.id == tenant_id) == 0
    assert not await silo_present(container, tenant_id)


async def test_a_keyed_registration_registers_once_and_replays_its_answer(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox
) -> None:
    keyed = {"Idempotency-Key": "register-1"}
    body = registration("basic")
    first = await client.post("/v1/registrations", headers=keyed, json=body)
    again = await client.post("/v1/registrations", headers=keyed, json=body)
    assert (first.status_code, again.status_code) == (202, 202), again.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    other = await client.post("/v1/registrations", headers=keyed, json={**body, "plan": "free"})
    assert other.status_code == 409, other.text
    assert other.json()["code"] == "idempotency_key_reused"
    assert await count_rows(container.db, Registration) == 1
    await mailbox.wait_for(EMAIL)
    assert len(mailbox.messages(EMAIL)) == 1  # the replay mailed no second code

    # The key is the address's: another address may use it for its own registration.
    stranger = registration("basic", email="stranger@example.com")
    theirs = await client.post("/v1/registrations", headers=keyed, json=stranger)
    assert theirs.status_code == 202, theirs.text
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["id"] != first.json()["id"]


# --- caps on open registrations (issue 18 item 3) ----------------------------------------------

CLIENT_LIMIT = 4


@pytest.fixture
async def capped(
    settings: Settings, clock: ShiftableClock
) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    """Clients from addresses of their choosing, on a server letting one client address start
    CLIENT_LIMIT registrations a day (and one email address keep 3 open: the default)."""
    changes = {"registration_client_limit": CLIENT_LIMIT}
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


def _refusals(answers: list[httpx.Response]) -> list[httpx.Response]:
    assert {answer.status_code for answer in answers} <= {202, 429}, [a.text for a in answers]
    return [answer for answer in answers if answer.status_code == 429]


async def test_one_address_keeps_at_most_three_registrations_open(
    capped: Callable[[str], httpx.AsyncClient],
    container: Container,
    mailbox: Mailbox,
    clock: ShiftableClock,
) -> None:
    client = capped("198.51.100.7")
    bodies = [registration("basic", tenant_name=f"Globex {n}") for n in range(5)]
    answers = await asyncio.gather(*(client.post("/v1/registrations", json=b) for b in bodies))

    refused = _refusals(list(answers))
    assert len(refused) == 2
    assert {answer.json()["code"] for answer in refused} == {"too_many_registrations"}
    assert 0 < int(refused[0].headers["Retry-After"]) <= 24 * 3600 + 1  # the oldest expires
    assert await count_rows(container.db, Registration) == 3
    another = capped("198.51.100.8")  # the cap is the address's, whoever asks
    again = await another.post("/v1/registrations", json=registration("basic"))
    assert (again.status_code, again.json()["code"]) == (429, "too_many_registrations")
    assert await count_rows(container.db, Registration) == 3

    clock.advance(24 * 3600 + 1)  # the open ones expire
    await start(another, registration("free"))


async def test_one_client_address_starts_a_bounded_number_of_registrations(
    capped: Callable[[str], httpx.AsyncClient], container: Container
) -> None:
    flooder = capped("203.0.113.9")
    bodies = [registration("free", email=f"r{n}@example.com") for n in range(CLIENT_LIMIT + 2)]
    answers = await asyncio.gather(*(flooder.post("/v1/registrations", json=b) for b in bodies))

    refused = _refusals(list(answers))
    assert len(refused) == 2
    assert refused[0].json()["code"] == "too_many_registrations"
    assert 0 < int(refused[0].headers["Retry-After"]) <= 24 * 3600 + 1
    assert await count_rows(container.db, Registration) == CLIENT_LIMIT
    await start(capped("198.51.100.4"), registration("free", email="other@example.com"))
