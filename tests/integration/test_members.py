"""A tenant's members (SPEC §6; security catalogue 23, 24, 26): reading them, role changes with
the owner rules, evictions that apply on the very next request, and leaving."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tenantry.bootstrap import Container
from tenantry.settings import Settings
from tenantry.storage.models import DomainEvent, Membership, Team, TeamMember
from tests.support.api import (
    Account,
    bearer,
    invite_and_join,
    register,
)
from tests.support.counts import count_rows
from tests.support.mailbox import Mailbox
from tests.support.routes import Route, assert_guarded, assert_problem, make_org
from tests.support.server import running_server

pytestmark = pytest.mark.integration

MEMBER = "/v1/members/{user}"
ROUTES = [
    Route("GET", "/v1/members", "viewer"),
    Route("GET", MEMBER, "viewer"),
    Route("PATCH", MEMBER, "admin", {"role": "viewer"}),
    Route("DELETE", MEMBER, "admin"),
]


def member_path(account: Account) -> str:
    return f"/v1/members/{account.user_id}"


async def set_role(
    client: httpx.AsyncClient, actor: Account, tenant_id: str, member: Account, role: str
) -> httpx.Response:
    return await client.patch(
        member_path(member), headers=actor.headers(tenant_id), json={"role": role}
    )


async def remove(
    client: httpx.AsyncClient, actor: Account, tenant_id: str, member: Account
) -> httpx.Response:
    return await client.delete(member_path(member), headers=actor.headers(tenant_id))


async def roles(client: httpx.AsyncClient, viewer: Account, tenant_id: str) -> dict[str, str]:
    """Member emails and roles, as a member of the tenant sees them."""
    response = await client.get("/v1/members", headers=viewer.headers(tenant_id))
    assert response.status_code == 200, response.text
    return {item["email"]: item["role"] for item in response.json()["items"]}


# --- reading --------------------------------------------------------------------------------


async def test_members_are_listed_in_joining_order_with_their_profile(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    ann: Account,
    bob: Account,
    carol: Account,
    acme: str,
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, "viewer")
    await invite_and_join(client, mailbox, ann, carol, acme, "editor")

    first = await client.get("/v1/members", headers=bob.headers(acme), params={"limit": 2})
    assert first.status_code == 200, first.text
    rest = await client.get(
        "/v1/members",
        headers=bob.headers(acme),
        params={"limit": 2, "cursor": first.json()["next_cursor"]},
    )

    items = first.json()["items"] + rest.json()["items"]
    assert [(m["user_id"], m["email"], m["name"], m["role"]) for m in items] == [
        (ann.user_id, "ann@example.com", "Ann", "owner"),
        (bob.user_id, "bob@example.com", "Bob", "viewer"),
        (carol.user_id, "carol@example.com", "Carol", "editor"),
    ]
    assert rest.json()["next_cursor"] is None
    one = await client.get(member_path(carol), headers=bob.headers(acme))
    assert one.status_code == 200
    assert one.json() == items[2]
    assert set(one.json()) == {"user_id", "email", "name", "role", "joined_at"}


@pytest.mark.catalogue(24)
@pytest.mark.parametrize("route", [r for r in ROUTES if "{user}" in r.path], ids=str)
async def test_someone_outside_the_tenant_is_no_member_of_it(
    client: httpx.AsyncClient, ann: Account, bob: Account, acme: str, route: Route
) -> None:
    for user_id in (bob.user_id, str(uuid.uuid4())):
        response = await client.request(
            route.method,
            route.path.format(user=user_id),
            headers=ann.headers(acme),
            json=route.body,
        )
        assert_problem(response, 404, "member_not_found")
    # Bob is a member of his own workspace, never visible from Acme.
    assert (await roles(client, ann, acme)) == {"ann@example.com": "owner"}
    assert (await roles(client, bob, bob.tenant_id)) == {"bob@example.com": "owner"}


# --- who may do what ------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_member_routes_check_token_tenant_and_role(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container, route: Route
) -> None:
    org = await make_org(client, mailbox, container)
    outsider = await register(client, mailbox, "outsider@example.com")
    # The admin as the subject: below admin, only leaving (oneself) is allowed.
    await assert_guarded(
        client, route, org=org, outsider=outsider, user=org.members["admin"].user_id
    )

    assert (await roles(client, org.members["owner"], org.tenant_id)) == {
        f"{role}@example.com": role for role in org.members
    }


@pytest.mark.catalogue(26)
@pytest.mark.parametrize("role", ["viewer", "editor"])
async def test_a_member_cannot_promote_themselves(
    client: httpx.AsyncClient, mailbox: Mailbox, ann: Account, bob: Account, acme: str, role: str
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, role)

    assert_problem(await set_role(client, bob, acme, bob, "admin"), 403, "insufficient_role")

    assert (await roles(client, ann, acme))["bob@example.com"] == role


@pytest.mark.catalogue(26)
async def test_admins_manage_admins_editors_and_viewers_but_not_owners(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    ann: Account,
    bob: Account,
    carol: Account,
    acme: str,
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, "admin")
    await invite_and_join(client, mailbox, ann, carol, acme, "viewer")

    for role in ("editor", "admin", "viewer"):
        changed = await set_role(client, bob, acme, carol, role)
        assert changed.status_code == 200, changed.text
        assert (changed.json()["user_id"], changed.json()["role"]) == (carol.user_id, role)
    assert_problem(await set_role(client, bob, acme, carol, "owner"), 403, "insufficient_role")
    assert_problem(await set_role(client, bob, acme, bob, "owner"), 403, "insufficient_role")

    assert (await set_role(client, ann, acme, carol, "owner")).status_code == 200
    assert_problem(await set_role(client, bob, acme, carol, "viewer"), 403, "insufficient_role")
    assert_problem(await remove(client, bob, acme, carol), 403, "insufficient_role")
    assert (await roles(client, ann, acme))["carol@example.com"] == "owner"


@pytest.mark.parametrize("role", ["superuser", "", None])
async def test_an_unknown_role_is_422(
    client: httpx.AsyncClient, mailbox: Mailbox, ann: Account, bob: Account, acme: str, role: Any
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, "viewer")

    response = await set_role(client, ann, acme, bob, role)

    assert_problem(response, 422, "validation_error")


@pytest.mark.catalogue(25)
async def test_fields_other_than_role_are_ignored(
    client: httpx.AsyncClient, mailbox: Mailbox, ann: Account, bob: Account, acme: str
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, "viewer")

    response = await client.patch(
        member_path(bob),
        headers=ann.headers(acme),
        json={"role": "editor", "user_id": ann.user_id, "tenant_id": bob.tenant_id},
    )

    assert response.status_code == 200
    assert (response.json()["user_id"], response.json()["role"]) == (bob.user_id, "editor")
    assert await roles(client, ann, acme) == {
        "ann@example.com": "owner",
        "bob@example.com": "editor",
    }


# --- owners ---------------------------------------------------------------------------------


@pytest.mark.catalogue(26)
async def test_the_last_owner_can_neither_step_down_nor_leave(
    client: httpx.AsyncClient, mailbox: Mailbox, ann: Account, bob: Account, acme: str
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, "admin")

    assert_problem(await set_role(client, ann, acme, ann, "admin"), 409, "last_owner")
    assert_problem(await remove(client, ann, acme, ann), 409, "last_owner")
    # An admin is refused for want of the owner role before the owner count is looked at.
    assert_problem(await set_role(client, bob, acme, ann, "viewer"), 403, "insufficient_role")

    assert (await set_role(client, ann, acme, bob, "owner")).status_code == 200
    assert (await set_role(client, ann, acme, ann, "admin")).status_code == 200
    assert_problem(await set_role(client, bob, acme, bob, "editor"), 409, "last_owner")
    assert (await remove(client, ann, acme, ann)).status_code == 204
    assert await roles(client, bob, acme) == {"bob@example.com": "owner"}


async def test_an_owner_removes_another_owner(
    client: httpx.AsyncClient, mailbox: Mailbox, ann: Account, bob: Account, acme: str
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, "owner")

    assert (await remove(client, bob, acme, ann)).status_code == 204

    assert await roles(client, bob, acme) == {"bob@example.com": "owner"}


async def test_the_personal_tenants_owner_stays_its_owner(
    client: httpx.AsyncClient, mailbox: Mailbox, ann: Account, bob: Account
) -> None:
    await invite_and_join(client, mailbox, ann, bob, ann.tenant_id, "owner")

    assert_problem(await set_role(client, bob, ann.tenant_id, ann, "admin"), 409, "personal_tenant")
    assert_problem(await remove(client, bob, ann.tenant_id, ann), 409, "personal_tenant")
    assert_problem(await remove(client, ann, ann.tenant_id, ann), 409, "personal_tenant")
    assert_problem(await set_role(client, ann, ann.tenant_id, ann, "admin"), 409, "personal_tenant")

    assert (await remove(client, ann, ann.tenant_id, bob)).status_code == 204
    assert await roles(client, ann, ann.tenant_id) == {"ann@example.com": "owner"}


# --- evictions and leaving ------------------------------------------------------------------


@pytest.mark.catalogue(23)
async def test_an_evicted_member_is_refused_on_the_very_next_request(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    container: Container,
    ann: Account,
    bob: Account,
    acme: str,
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, "editor")
    for _ in range(3):  # cache Bob's access to Acme
        assert (await client.get("/v1/members", headers=bob.headers(acme))).status_code == 200

    assert (await remove(client, ann, acme, bob)).status_code == 204

    denied = await client.get("/v1/members", headers=bob.headers(acme))
    assert_problem(denied, 403, "tenant_access_denied")
    assert (await client.get("/v1/me", headers=bearer(bob.access_token))).status_code == 200
    assert_problem(await remove(client, ann, acme, bob), 404, "member_not_found")
    async with container.db.read() as session:
        event = await session.scalar(
            select(DomainEvent).where(DomainEvent.type == "membership.deleted")
        )
    assert event is not None
    assert (event.tenant_id, event.actor_id) == (uuid.UUID(acme), uuid.UUID(ann.user_id))
    assert event.data == {"user_id": bob.user_id, "role": "editor"}


async def test_a_role_change_applies_on_the_very_next_request(
    client: httpx.AsyncClient, mailbox: Mailbox, ann: Account, bob: Account, acme: str
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, "admin")
    for _ in range(3):  # cache Bob's admin access
        assert (await client.get("/v1/invitations", headers=bob.headers(acme))).status_code == 200

    assert (await set_role(client, ann, acme, bob, "viewer")).status_code == 200

    denied = await client.get("/v1/invitations", headers=bob.headers(acme))
    assert_problem(denied, 403, "insufficient_role")


@pytest.mark.catalogue(23)
async def test_an_eviction_in_another_process_applies_here_at_once(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    container: Container,
    settings: Settings,
    ann: Account,
    bob: Account,
    acme: str,
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, "viewer")
    for _ in range(3):
        assert (await client.get("/v1/members", headers=bob.headers(acme))).status_code == 200
    # A steady epoch: this process serves Bob's access from its cache.
    assert container.db.epoch.current() == container.db.epoch.current()

    with running_server(settings) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as other:
            evicted = await remove(other, ann, acme, bob)
        assert evicted.status_code == 204
        denied = await client.get("/v1/members", headers=bob.headers(acme))

    assert_problem(denied, 403, "tenant_access_denied")


async def test_an_eviction_takes_the_member_out_of_the_tenants_teams(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    container: Container,
    ann: Account,
    bob: Account,
    acme: str,
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, "editor")
    now = container.clock.now()
    team_id, tenant_id = uuid.uuid4(), uuid.UUID(acme)
    async with container.db.transaction() as session:
        session.add(
            Team(id=team_id, tenant_id=tenant_id, name="Core", created_at=now, updated_at=now)
        )
        await session.flush()
        session.add(
            TeamMember(
                team_id=team_id, user_id=uuid.UUID(bob.user_id), tenant_id=tenant_id, created_at=now
            )
        )

    assert (await remove(client, ann, acme, bob)).status_code == 204

    assert await count_rows(container.db, TeamMember) == 0


async def test_any_member_can_leave_and_falls_back_to_the_personal_tenant(
    client: httpx.AsyncClient, mailbox: Mailbox, ann: Account, bob: Account, acme: str
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, "viewer")
    chosen = await client.patch(
        "/v1/me", headers=bearer(bob.access_token), json={"default_tenant_id": acme}
    )
    assert chosen.json()["default_tenant_id"] == acme

    assert (await remove(client, bob, acme, bob)).status_code == 204

    me = (await client.get("/v1/me", headers=bearer(bob.access_token))).json()
    assert me["default_tenant_id"] == bob.tenant_id
    assert [m["tenant_id"] for m in me["memberships"]] == [bob.tenant_id]
    assert_problem(
        await client.get("/v1/members", headers=bob.headers(acme)), 403, "tenant_access_denied"
    )


# --- races ----------------------------------------------------------------------------------


@pytest.fixture
async def http(container: Container, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a real server (two worker processes) sharing the test database."""
    assert container.settings is settings
    with running_server(settings, workers=2) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            yield client


@pytest.mark.catalogue(26)
async def test_two_owners_demoting_each_other_at_once_leave_one_owner(
    client: httpx.AsyncClient,
    http: httpx.AsyncClient,
    mailbox: Mailbox,
    container: Container,
    ann: Account,
    bob: Account,
    acme: str,
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, "owner")
    pairs = [(ann, bob), (bob, ann)]
    owners = Membership.tenant_id == uuid.UUID(acme), Membership.role == "owner"

    for _ in range(5):
        responses = await asyncio.gather(
            *(set_role(http, actor, acme, target, "admin") for actor, target in pairs)
        )

        assert Counter(r.status_code for r in responses)[200] == 1, responses
        # Both authorized as owners: the count under the tenant lock refuses the second. The
        # loser authorized after the winner committed is no owner any more.
        [lost] = [r for r in responses if r.status_code != 200]
        assert (lost.status_code, lost.json()["code"]) in {
            (409, "last_owner"),
            (403, "insufficient_role"),
        }
        assert await count_rows(container.db, Membership, *owners) == 1
        winner = pairs[[r.status_code for r in responses].index(200)][0]
        loser = bob if winner is ann else ann
        assert (await set_role(client, winner, acme, loser, "owner")).status_code == 200
