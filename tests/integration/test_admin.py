"""The platform-admin plane (SPEC §8 `/v1/admin/*`): who may use it, searching tenants and
users, a tenant's details and usage, changing it, disabling and enabling it, and creating
tenants for an owner named by email."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tenantry.bootstrap import Container
from tenantry.domain.provider.admins import ensure_platform_admin
from tenantry.storage.models import DomainEvent, IdempotencyRecord, Tenant, User
from tests.support.api import (
    OPERATOR_EMAIL,
    Account,
    bearer,
    create_organization,
    register,
    sign_in,
)
from tests.support.clock import ShiftableClock
from tests.support.counts import count_rows
from tests.support.mailbox import Mailbox
from tests.support.routes import all_pages, assert_problem, create
from tests.support.tenancy import add_member

pytestmark = pytest.mark.integration

NEW_OWNER_PASSWORD = "a brand new owner password"


def admin(account: Account) -> dict[str, str]:
    return bearer(account.access_token)


async def events_of(container: Container, event_type: str) -> list[DomainEvent]:
    async with container.db.read() as session:
        found = await session.scalars(select(DomainEvent).where(DomainEvent.type == event_type))
        return list(found)


async def details(client: httpx.AsyncClient, operator: Account, tenant_id: str) -> Any:
    response = await client.get(f"/v1/admin/tenants/{tenant_id}", headers=admin(operator))
    assert response.status_code == 200, response.text
    return response.json()


async def patch(
    client: httpx.AsyncClient, operator: Account, tenant_id: str, **body: Any
) -> httpx.Response:
    return await client.patch(f"/v1/admin/tenants/{tenant_id}", headers=admin(operator), json=body)


async def search(client: httpx.AsyncClient, operator: Account, **params: Any) -> list[str]:
    response = await client.get("/v1/admin/tenants", headers=admin(operator), params=params)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


async def add_provisioning_tenant(container: Container, name: str) -> uuid.UUID:
    """A tenant reserved by a provisioning run that has not finished."""
    now = container.clock.now()
    tenant_id = uuid.uuid4()
    async with container.db.transaction() as session:
        session.add(
            Tenant(
                id=tenant_id,
                name=name,
                kind="organization",
                plan="basic",
                status="provisioning",
                isolation="pool",
                profile={},
                extra_metadata={},
                feature_overrides={},
                personal_owner_id=None,
                created_at=now,
                updated_at=now,
            )
        )
    return tenant_id


@pytest.mark.catalogue(37)
async def test_every_admin_route_refuses_anonymous_and_non_admin_callers(
    client: httpx.AsyncClient, operator: Account, ann: Account, acme: str
) -> None:
    routes: list[tuple[str, str, dict[str, Any] | None, int]] = [
        ("GET", "/v1/admin/tenants", None, 200),
        (
            "POST",
            "/v1/admin/tenants",
            {"name": "Globex", "plan": "basic", "owner_email": "ann@example.com"},
            201,
        ),
        ("GET", f"/v1/admin/tenants/{acme}", None, 200),
        ("PATCH", f"/v1/admin/tenants/{acme}", {"name": "Acme Corp"}, 200),
        ("POST", f"/v1/admin/tenants/{acme}/disable", {"reason": "audit"}, 200),
        ("POST", f"/v1/admin/tenants/{acme}/enable", None, 200),
        ("GET", "/v1/admin/users", None, 200),
    ]
    for method, path, body, success in routes:
        anonymous = await client.request(method, path, json=body)
        assert_problem(anonymous, 401, "missing_token")
        member = await client.request(method, path, json=body, headers=ann.headers())
        assert_problem(member, 403, "platform_admin_required")
        allowed = await client.request(method, path, json=body, headers=admin(operator))
        assert allowed.status_code == success, (method, path, allowed.text)


@pytest.mark.catalogue(37)
async def test_the_admin_flag_is_read_on_every_request(
    client: httpx.AsyncClient, container: Container, operator: Account
) -> None:
    assert (await client.get("/v1/admin/users", headers=admin(operator))).status_code == 200
    # A demotion written straight to the table bumps no access epoch.
    async with container.db.transaction() as session:
        await session.execute(
            update(User).where(User.email_key == OPERATOR_EMAIL).values(is_platform_admin=False)
        )
    response = await client.get("/v1/admin/users", headers=admin(operator))
    assert_problem(response, 403, "platform_admin_required")


async def test_a_promoted_account_becomes_an_admin(
    client: httpx.AsyncClient, container: Container, ann: Account
) -> None:
    await ensure_platform_admin(container.identity, email=ann.email, password=ann.password)
    assert (await client.get("/v1/admin/users", headers=ann.headers())).status_code == 200


async def test_search_by_name_id_status_and_plan(
    client: httpx.AsyncClient,
    container: Container,
    operator: Account,
    ann: Account,
    bob: Account,
    acme: str,
) -> None:
    beta = await create_organization(client, bob, "Beta Labs")
    await create_organization(client, bob, "100% Organic")
    assert (await patch(client, operator, beta, plan="basic")).status_code == 200
    disabled = await client.post(f"/v1/admin/tenants/{beta}/disable", headers=admin(operator))
    assert disabled.status_code == 200, disabled.text
    await add_provisioning_tenant(container, "Half-made Inc")

    assert await search(client, operator, q="acm") == ["Acme"]
    assert await search(client, operator, q="  BETA ") == ["Beta Labs"]
    assert await search(client, operator, q=acme) == ["Acme"]
    assert await search(client, operator, q="%") == ["100% Organic"]
    assert await search(client, operator, q="_") == []
    assert await search(client, operator, status="disabled") == ["Beta Labs"]
    assert await search(client, operator, status="provisioning") == ["Half-made Inc"]
    assert await search(client, operator, plan="basic") == ["Beta Labs", "Half-made Inc"]
    assert await search(client, operator, plan="basic", status="active") == []
    assert sorted(await search(client, operator, q="workspace")) == [
        "Ann's workspace",
        "Bob's workspace",
        "op's workspace",
    ]
    invalid = await client.get(
        "/v1/admin/tenants", headers=admin(operator), params={"status": "gone"}
    )
    assert_problem(invalid, 422, "validation_error")


async def test_search_lists_every_tenant_with_members_through_cursors(
    client: httpx.AsyncClient,
    container: Container,
    operator: Account,
    ann: Account,
    bob: Account,
    acme: str,
) -> None:
    await add_member(container, tenant_id=acme, user_id=bob.user_id, role="viewer")
    listed = await client.get("/v1/admin/tenants", headers=admin(operator))
    items = {item["id"]: item for item in listed.json()["items"]}
    assert len(items) == 4  # three personal workspaces and Acme
    assert items[acme]["members"] == 2
    assert {key: items[acme][key] for key in ("kind", "plan", "status", "isolation")} == {
        "kind": "organization",
        "plan": "free",
        "status": "active",
        "isolation": "pool",
    }
    paged = await all_pages(client, admin(operator), "/v1/admin/tenants")
    assert paged == list(items)


async def test_details_show_counts_and_usage_against_the_plan(
    client: httpx.AsyncClient,
    container: Container,
    clock: ShiftableClock,
    mailbox: Mailbox,
    operator: Account,
    ann: Account,
    bob: Account,
    acme: str,
) -> None:
    await add_member(container, tenant_id=acme, user_id=bob.user_id, role="editor")
    for name in ("Web", "Mobile"):
        await create(client, "/v1/projects", ann.headers(acme), name=name)
    await create(client, "/v1/teams", ann.headers(acme), name="Core")
    await create(
        client, "/v1/invitations", ann.headers(acme), email="carol@example.com", role="viewer"
    )
    expired = await create(
        client,
        "/v1/invitations",
        ann.headers(acme),
        email="dan@example.com",
        role="viewer",
        expires_in=60,
    )
    assert expired["status"] == "pending"
    # Let the worker send both before the test ends: a worker stopped mid-send can miss its
    # cancellation (aiosmtplib's wait_for on Python 3.11) and the teardown waits for it.
    for invitee in ("carol@example.com", "dan@example.com"):
        await mailbox.wait_for(invitee)
    clock.advance(120)

    body = await details(client, operator, acme)
    assert (body["name"], body["kind"], body["plan"], body["status"]) == (
        "Acme",
        "organization",
        "free",
        "active",
    )
    assert body["members"] == 2
    assert body["usage"] == {
        "members": {"used": 2, "limit": 5},
        "projects": {"used": 2, "limit": 3},
        "teams": {"used": 1, "limit": 2},
        "pending_invitations": {"used": 1, "limit": 5},
    }
    assert (body["metadata"], body["feature_overrides"], body["disabled_reason"]) == ({}, {}, None)
    assert body["features"]["experiments"] is True
    assert body["limits"]["projects"] == 3


async def test_unknown_tenants_are_404(client: httpx.AsyncClient, operator: Account) -> None:
    nowhere = f"/v1/admin/tenants/{uuid.uuid4()}"
    for method, path, body in (
        ("GET", nowhere, None),
        ("PATCH", nowhere, {"name": "X"}),
        ("POST", f"{nowhere}/disable", None),
        ("POST", f"{nowhere}/enable", None),
    ):
        response = await client.request(method, path, json=body, headers=admin(operator))
        assert_problem(response, 404, "tenant_not_found")


async def test_patch_renames_and_merges_metadata(
    client: httpx.AsyncClient, container: Container, operator: Account, ann: Account, acme: str
) -> None:
    first = await patch(
        client, operator, acme, name="Acme Corp", metadata={"crm_id": "A-1", "tier": "gold"}
    )
    assert first.status_code == 200, first.text
    second = await patch(client, operator, acme, metadata={"tier": None, "region": "eu"})
    assert second.status_code == 200, second.text
    assert second.json()["name"] == "Acme Corp"
    assert second.json()["metadata"] == {"crm_id": "A-1", "region": "eu"}
    # Members see the new name on their very next request.
    seen = await client.get("/v1/tenant", headers=ann.headers(acme))
    assert seen.json()["name"] == "Acme Corp"
    updates = await events_of(container, "tenant.updated")
    assert [event.data for event in updates] == [
        {"name": "Acme Corp", "metadata": ["crm_id", "tier"]},
        {"metadata": ["region", "tier"]},
    ]
    assert {event.actor_id for event in updates} == {uuid.UUID(operator.user_id)}


async def test_patch_overrides_features_and_removes_overrides(
    client: httpx.AsyncClient, operator: Account, ann: Account, acme: str
) -> None:
    assert (await client.get("/v1/tenant", headers=ann.headers(acme))).json()["features"][
        "webhooks"
    ] is False
    on = await patch(client, operator, acme, features={"webhooks": True, "experiments": False})
    assert on.status_code == 200, on.text
    assert on.json()["feature_overrides"] == {"webhooks": True, "experiments": False}
    features = (await client.get("/v1/tenant", headers=ann.headers(acme))).json()["features"]
    assert (features["webhooks"], features["experiments"]) == (True, False)
    off = await patch(client, operator, acme, features={"webhooks": None})
    assert off.json()["feature_overrides"] == {"experiments": False}
    assert off.json()["features"]["webhooks"] is False


async def test_patch_changes_the_plan_within_one_isolation_mode(
    client: httpx.AsyncClient, container: Container, operator: Account, ann: Account, acme: str
) -> None:
    response = await patch(client, operator, acme, plan="standard")
    assert response.status_code == 200, response.text
    assert (response.json()["plan"], response.json()["isolation"]) == ("standard", "pool")
    assert response.json()["usage"]["projects"]["limit"] == 50
    seen = (await client.get("/v1/tenant", headers=ann.headers(acme))).json()
    assert (seen["plan"], seen["limits"]["projects"], seen["features"]["audit_log"]) == (
        "standard",
        50,
        True,
    )
    [event] = await events_of(container, "tenant.updated")
    assert event.data == {"plan": "standard", "previous_plan": "free", "isolation": "pool"}


async def test_patch_to_a_silo_plan_moves_the_tenant(
    client: httpx.AsyncClient, operator: Account, ann: Account, acme: str
) -> None:
    await create(client, "/v1/projects", ann.headers(acme), name="Web")
    response = await patch(client, operator, acme, plan="premium", name="Acme Premium")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["plan"], body["isolation"], body["name"]) == ("premium", "silo", "Acme Premium")
    projects = await client.get("/v1/projects", headers=ann.headers(acme))
    assert [project["name"] for project in projects.json()["items"]] == ["Web"]


async def test_patch_refuses_unknown_plans_and_features_changing_nothing(
    client: httpx.AsyncClient, container: Container, operator: Account, acme: str
) -> None:
    plan = await patch(client, operator, acme, name="Renamed", plan="diamond")
    assert_problem(plan, 422, "unknown_plan")
    feature = await patch(client, operator, acme, name="Renamed", features={"teleport": True})
    assert_problem(feature, 422, "unknown_feature")
    extra = await patch(client, operator, acme, kind="personal")
    assert_problem(extra, 422, "validation_error")
    assert (await details(client, operator, acme))["name"] == "Acme"
    assert await events_of(container, "tenant.updated") == []


@pytest.mark.catalogue(37)
async def test_disable_locks_members_out_until_enabled_keeping_the_data(
    client: httpx.AsyncClient,
    container: Container,
    operator: Account,
    ann: Account,
    bob: Account,
    acme: str,
) -> None:
    await add_member(container, tenant_id=acme, user_id=bob.user_id, role="viewer")
    await create(client, "/v1/projects", ann.headers(acme), name="Web")
    for member in (ann, bob):  # cached grants on every member
        assert (await client.get("/v1/tenant", headers=member.headers(acme))).status_code == 200

    disabled = await client.post(
        f"/v1/admin/tenants/{acme}/disable", headers=admin(operator), json={"reason": "unpaid"}
    )
    assert disabled.status_code == 200, disabled.text
    assert (disabled.json()["status"], disabled.json()["disabled_reason"]) == (
        "disabled",
        "unpaid",
    )
    for member in (ann, bob):
        locked = await client.get("/v1/tenant", headers=member.headers(acme))
        assert_problem(locked, 403, "tenant_disabled")
    projects = await client.get("/v1/projects", headers=ann.headers(acme))
    assert_problem(projects, 403, "tenant_disabled")
    # Their other tenants are untouched.
    assert (await client.get("/v1/tenant", headers=ann.headers())).status_code == 200

    again = await client.post(f"/v1/admin/tenants/{acme}/disable", headers=admin(operator))
    assert again.status_code == 200
    assert again.json()["disabled_reason"] == "unpaid"

    enabled = await client.post(f"/v1/admin/tenants/{acme}/enable", headers=admin(operator))
    assert enabled.status_code == 200, enabled.text
    assert (enabled.json()["status"], enabled.json()["disabled_reason"]) == ("active", None)
    assert (await client.get("/v1/tenant", headers=ann.headers(acme))).status_code == 200
    projects = await client.get("/v1/projects", headers=bob.headers(acme))
    assert [project["name"] for project in projects.json()["items"]] == ["Web"]

    [off] = await events_of(container, "tenant.disabled")
    [on] = await events_of(container, "tenant.enabled")
    assert off.data == {"tenant_id": acme, "reason": "unpaid"}
    assert on.data == {"tenant_id": acme}
    assert off.actor_id == on.actor_id == uuid.UUID(operator.user_id)


async def test_a_personal_tenant_can_be_disabled(
    client: httpx.AsyncClient, operator: Account, ann: Account
) -> None:
    response = await client.post(
        f"/v1/admin/tenants/{ann.tenant_id}/disable", headers=admin(operator)
    )
    assert response.status_code == 200, response.text
    assert_problem(await client.get("/v1/tenant", headers=ann.headers()), 403, "tenant_disabled")


async def test_a_tenant_being_provisioned_cannot_be_changed(
    client: httpx.AsyncClient, container: Container, operator: Account
) -> None:
    tenant_id = await add_provisioning_tenant(container, "Half-made Inc")
    for action in ("disable", "enable"):
        response = await client.post(
            f"/v1/admin/tenants/{tenant_id}/{action}", headers=admin(operator)
        )
        assert_problem(response, 409, "tenant_provisioning")
    assert_problem(
        await patch(client, operator, str(tenant_id), name="X"), 409, "tenant_provisioning"
    )
    assert (await details(client, operator, str(tenant_id)))["status"] == "provisioning"


async def test_disable_reason_is_bounded(
    client: httpx.AsyncClient, operator: Account, acme: str
) -> None:
    response = await client.post(
        f"/v1/admin/tenants/{acme}/disable", headers=admin(operator), json={"reason": "x" * 501}
    )
    assert_problem(response, 422, "validation_error")


async def test_create_for_a_new_address_mails_an_activation_code(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox, operator: Account
) -> None:
    created = await client.post(
        "/v1/admin/tenants",
        headers=admin(operator),
        json={
            "name": "Globex",
            "plan": "platinum",
            "owner_email": "Nina@Example.com",
            "owner_name": "Nina",
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["name"], body["plan"], body["status"], body["members"]) == (
        "Globex",
        "platinum",
        "active",
        1,
    )
    assert body["isolation"] == "silo"

    code = await mailbox.code_for("nina@example.com")
    confirmed = await client.post(
        "/v1/auth/confirm",
        json={"email": "nina@example.com", "code": code, "password": NEW_OWNER_PASSWORD},
    )
    assert confirmed.status_code == 200, confirmed.text
    token = confirmed.json()["access_token"]
    tenants = (await client.get("/v1/tenants", headers=bearer(token))).json()["items"]
    assert {(t["name"], t["role"]) for t in tenants} == {
        ("Globex", "owner"),
        ("Nina's workspace", "owner"),
    }
    me = (await client.get("/v1/me", headers=bearer(token))).json()
    assert me["default_tenant_id"] != body["id"]
    [membership] = [
        event
        for event in await events_of(container, "membership.created")
        if event.tenant_id == uuid.UUID(body["id"])
    ]
    assert membership.actor_id == uuid.UUID(operator.user_id)
    assert await sign_in(client, "nina@example.com", NEW_OWNER_PASSWORD)


async def test_create_for_an_existing_user(
    client: httpx.AsyncClient, mailbox: Mailbox, operator: Account, bob: Account
) -> None:
    mails_before = len(mailbox.messages(bob.email))
    created = await client.post(
        "/v1/admin/tenants",
        headers=admin(operator),
        json={"name": "Bob Industries", "plan": "standard", "owner_email": "BOB@example.com"},
    )
    assert created.status_code == 201, created.text
    tenant_id = created.json()["id"]
    tenants = (await client.get("/v1/tenants", headers=bearer(bob.access_token))).json()
    assert {(t["id"], t["role"]) for t in tenants["items"]} == {
        (bob.tenant_id, "owner"),
        (tenant_id, "owner"),
    }
    me = (await client.get("/v1/me", headers=bearer(bob.access_token))).json()
    assert me["default_tenant_id"] == bob.tenant_id
    assert len(mailbox.messages(bob.email)) == mails_before
    reads = await client.get("/v1/tenant", headers=bob.headers(tenant_id))
    assert reads.json()["plan"] == "standard"


async def test_create_refuses_an_unknown_plan(
    client: httpx.AsyncClient, container: Container, operator: Account
) -> None:
    tenants_before = await count_rows(container.db, Tenant)
    response = await client.post(
        "/v1/admin/tenants",
        headers=admin(operator),
        json={"name": "Nope", "plan": "diamond", "owner_email": "x@example.com"},
    )
    assert_problem(response, 422, "unknown_plan")
    assert await count_rows(container.db, Tenant) == tenants_before


@pytest.mark.catalogue(41)
async def test_create_with_an_idempotency_key_creates_once(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox, operator: Account
) -> None:
    body = {"name": "Initech", "plan": "basic", "owner_email": "peter@example.com"}
    headers = {**admin(operator), "Idempotency-Key": "initech-1"}
    first = await client.post("/v1/admin/tenants", headers=headers, json=body)
    second = await client.post("/v1/admin/tenants", headers=headers, json=body)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert await count_rows(container.db, Tenant, Tenant.name == "Initech") == 1
    await mailbox.wait_for("peter@example.com")
    assert len(mailbox.messages("peter@example.com")) == 1
    other = await client.post(
        "/v1/admin/tenants", headers=headers, json={**body, "name": "Initrode"}
    )
    assert_problem(other, 409, "idempotency_key_reused")


@pytest.mark.catalogue(41)
async def test_concurrent_creates_with_one_key_make_one_tenant(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox, operator: Account
) -> None:
    body = {"name": "Hooli", "plan": "basic", "owner_email": "gavin@example.com"}
    headers = {**admin(operator), "Idempotency-Key": "hooli"}
    responses = await asyncio.gather(
        *(client.post("/v1/admin/tenants", headers=headers, json=body) for _ in range(4))
    )
    created = [r for r in responses if r.status_code == 201]
    assert len({r.json()["id"] for r in created}) == 1
    assert [r for r in created if "Idempotent-Replayed" not in r.headers]
    for busy in (r for r in responses if r.status_code != 201):
        assert_problem(busy, 409, "idempotency_key_in_progress")
    assert await count_rows(container.db, Tenant, Tenant.name == "Hooli") == 1
    await mailbox.wait_for("gavin@example.com")
    assert len(mailbox.messages("gavin@example.com")) == 1


async def test_a_failed_provisioning_is_503_and_frees_the_key(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox, operator: Account
) -> None:
    body = {"name": "Umbrella", "plan": "premium", "owner_email": "wesker@example.com"}
    headers = {**admin(operator), "Idempotency-Key": "umbrella"}
    tenants_before = await count_rows(container.db, Tenant)
    container.faults.armed = "provisioning.activate"
    failed = await client.post("/v1/admin/tenants", headers=headers, json=body)
    container.faults.armed = None
    assert_problem(failed, 503, "provisioning_failed")
    # the cause is in the server's log, not in the answer (a database error quotes its SQL)
    expected = "Provisioning failed (activate): an unexpected error, logged by the server"
    assert failed.json()["detail"] == expected
    assert await count_rows(container.db, Tenant) == tenants_before
    assert await count_rows(container.db, IdempotencyRecord) == 0
    retried = await client.post("/v1/admin/tenants", headers=headers, json=body)
    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers
    await mailbox.wait_for("wesker@example.com")
    assert len(mailbox.messages("wesker@example.com")) == 1  # none from the failed run


async def test_user_search(
    client: httpx.AsyncClient, operator: Account, ann: Account, bob: Account, acme: str
) -> None:
    async def emails(**params: Any) -> list[str]:
        response = await client.get("/v1/admin/users", headers=admin(operator), params=params)
        assert response.status_code == 200, response.text
        return [item["email"] for item in response.json()["items"]]

    assert await emails(q="ANN@") == ["ann@example.com"]
    assert await emails(q="bob") == ["bob@example.com"]
    assert await emails(q="example.com") == [OPERATOR_EMAIL, "ann@example.com", "bob@example.com"]
    listed = await client.get("/v1/admin/users", headers=admin(operator), params={"q": "ann"})
    [item] = listed.json()["items"]
    assert item == {
        "id": ann.user_id,
        "email": "ann@example.com",
        "name": "Ann",
        "email_verified": True,
        "is_platform_admin": False,
        "disabled_at": None,
        "memberships": 2,
        "created_at": item["created_at"],
    }
    paged = await all_pages(client, admin(operator), "/v1/admin/users", key="email")
    assert paged == [OPERATOR_EMAIL, "ann@example.com", "bob@example.com"]


async def test_users_are_found_by_name(
    client: httpx.AsyncClient, mailbox: Mailbox, operator: Account
) -> None:
    await register(client, mailbox, "zed@example.com", name="Zora Quill")
    response = await client.get("/v1/admin/users", headers=admin(operator), params={"q": "quill"})
    assert [item["email"] for item in response.json()["items"]] == ["zed@example.com"]
