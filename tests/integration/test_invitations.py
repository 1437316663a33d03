"""Invitations (SPEC §7; security catalogue 17, 28-32): issued by admins, mailed, previewed,
accepted or declined by the invitee with the token from the mail."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from tenantry.bootstrap import Container
from tenantry.settings import Settings
from tenantry.storage.models import AuditEntry, DomainEvent, Invitation, Membership
from tests.integration.test_web_sessions import csrf_of, web_sign_in
from tests.support.api import (
    Account,
    bearer,
    create_organization,
    invitation_tokens,
    invite_and_join,
    mailed_invitation_token,
    register,
)
from tests.support.clock import ShiftableClock
from tests.support.counts import count_rows
from tests.support.mailbox import Mailbox
from tests.support.routes import Route, assert_guarded, assert_problem, make_org
from tests.support.server import running_server
from tests.support.tenancy import add_member

pytestmark = pytest.mark.integration

INVITATION = "/v1/invitations/{invitation}"
ROUTES = [
    Route("POST", "/v1/invitations", "admin", {"email": "new@example.com", "role": "viewer"}),
    Route("GET", "/v1/invitations", "admin"),
    Route("DELETE", INVITATION, "admin"),
    Route("POST", f"{INVITATION}/resend", "admin"),
]

DAY = 24 * 3600


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The test settings, with the changes a test passes by indirect parametrization."""
    return settings.model_copy(update=getattr(request, "param", {}))


async def invite(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    inviter: Account,
    tenant_id: str,
    email: str,
    role: str = "editor",
    **extra: Any,
) -> httpx.Response:
    """POST an invitation; a created one must reach the invitee with the URL it returned."""
    mailed_before = len(invitation_tokens(mailbox, email))
    response = await client.post(
        "/v1/invitations",
        headers=inviter.headers(tenant_id),
        json={"email": email, "role": role, **extra},
    )
    if response.status_code == 201:
        await expect_mailed(mailbox, email, response, nth=mailed_before + 1)
    return response


async def resend(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    admin: Account,
    tenant_id: str,
    invitation: dict[str, Any],
    **body: Any,
) -> httpx.Response:
    """Resend `invitation`; an accepted resend must mail the invitee the new URL."""
    mailed_before = len(invitation_tokens(mailbox, invitation["email"]))
    response = await client.post(
        f"/v1/invitations/{invitation['id']}/resend",
        headers=admin.headers(tenant_id),
        json=body or None,
    )
    if response.status_code == 202:
        await expect_mailed(mailbox, invitation["email"], response, nth=mailed_before + 1)
    return response


async def expect_mailed(
    mailbox: Mailbox, email: str, response: httpx.Response, *, nth: int
) -> None:
    token = await mailed_invitation_token(mailbox, email, nth=nth)
    assert response.json()["accept_url"] == f"http://testserver/invite?token={token}"


async def invited(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    inviter: Account,
    tenant_id: str,
    email: str,
    role: str = "editor",
    **extra: Any,
) -> tuple[dict[str, Any], str]:
    """Invite `email`; the 201 body and the token mailed to the invitee."""
    response = await invite(client, mailbox, inviter, tenant_id, email, role, **extra)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body, body["accept_url"].partition("token=")[2]


async def accept(client: httpx.AsyncClient, account: Account, token: str) -> httpx.Response:
    return await client.post(
        "/v1/invitations/accept", headers=bearer(account.access_token), json={"token": token}
    )


async def decline(client: httpx.AsyncClient, account: Account, token: str) -> httpx.Response:
    return await client.post(
        "/v1/invitations/decline", headers=bearer(account.access_token), json={"token": token}
    )


async def preview(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/v1/invitations/preview", params={"token": token})


async def listed(client: httpx.AsyncClient, admin: Account, tenant_id: str) -> dict[str, Any]:
    """The tenant's invitations by id."""
    response = await client.get("/v1/invitations", headers=admin.headers(tenant_id))
    assert response.status_code == 200, response.text
    return {item["id"]: item for item in response.json()["items"]}


# --- the whole journey ----------------------------------------------------------------------


@pytest.mark.catalogue(30)
async def test_invite_mail_preview_accept(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container, ann: Account, bob: Account
) -> None:
    acme = await create_organization(client, ann, "Acme")
    body, token = await invited(client, mailbox, ann, acme, "Bob@Example.com", "editor")

    assert body["email"] == "Bob@example.com"
    assert (body["role"], body["status"]) == ("editor", "pending")
    assert body["accept_url"].startswith("http://testserver/invite?token=inv_")
    lifetime = datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(
        body["created_at"]
    )
    assert lifetime == timedelta(days=7)
    mail = (await mailbox.wait_for("bob@example.com", count=2)).text
    assert "Ann invited you to join Acme" in mail
    assert body["accept_url"] in mail

    shown = await preview(client, token)
    assert shown.status_code == 200, shown.text
    assert shown.json() == {
        "tenant_name": "Acme",
        "inviter_name": "Ann",
        "email": "Bob@example.com",
        "role": "editor",
        "expires_at": body["expires_at"],
        "status": "pending",
    }

    joined = await accept(client, bob, token)
    assert joined.status_code == 200, joined.text
    assert joined.json() == {"tenant_id": acme, "role": "editor"}
    members = await client.get("/v1/members", headers=bob.headers(acme))
    assert members.status_code == 200
    assert {m["email"]: m["role"] for m in members.json()["items"]} == {
        "ann@example.com": "owner",
        "bob@example.com": "editor",
    }
    assert (await preview(client, token)).json()["status"] == "accepted"
    assert (await listed(client, ann, acme))[body["id"]]["status"] == "accepted"
    assert "accept_url" not in (await listed(client, ann, acme))[body["id"]]
    assert_problem(await accept(client, bob, token), 409, "invitation_accepted")

    async with container.db.read() as session:
        events = list(
            await session.scalars(
                select(DomainEvent.type)
                .where(DomainEvent.tenant_id == uuid.UUID(acme))
                .order_by(DomainEvent.created_at)
            )
        )
    assert events[-3:] == ["invitation.created", "invitation.accepted", "membership.created"]


@pytest.mark.catalogue(29)
async def test_the_token_is_stored_only_as_a_hash_and_is_no_access_token(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container, ann: Account, acme: str
) -> None:
    _, token = await invited(client, mailbox, ann, acme, "bob@example.com")

    async with container.db.read() as session:
        stored = await session.scalar(select(Invitation.token_hash))
    assert stored is not None
    assert len(stored) == 64
    assert token.partition("_")[2] not in stored
    me = await client.get("/v1/me", headers=bearer(token))
    assert me.status_code == 401


@pytest.mark.catalogue(29)
async def test_an_unknown_or_edited_token_is_not_found(
    client: httpx.AsyncClient, mailbox: Mailbox, ann: Account, bob: Account, acme: str
) -> None:
    _, token = await invited(client, mailbox, ann, acme, "bob@example.com")
    _, other = await invited(client, mailbox, ann, acme, "carol@example.com")
    prefix, _, secret = token.partition("_")
    assert len(secret) >= 43 and other.partition("_")[2] != secret  # 256 random bits each

    def flipped(at: int) -> str:
        swapped = "A" if token[at] != "A" else "B"
        return token[:at] + swapped + token[at + 1 :]

    edits = [
        flipped(len(prefix) + 1),
        flipped(len(token) // 2),
        flipped(len(token) - 1),
        token[:-1],
        token + "A",
        "xnv_" + secret,
        token.swapcase(),
        other[:-4] + token[-4:],
    ]
    for forged in ("inv_" + "A" * 43, *edits, "x"):
        assert_problem(await preview(client, forged), 404, "invitation_not_found")
        assert_problem(await accept(client, bob, forged), 404, "invitation_not_found")
        assert_problem(await decline(client, bob, forged), 404, "invitation_not_found")
    assert (await preview(client, "")).status_code == 422
    assert (await client.get("/v1/invitations/preview")).status_code == 422
    assert (await accept(client, bob, "")).status_code == 422
    assert (await accept(client, bob, token)).status_code == 200


@pytest.mark.catalogue(41)
async def test_an_idempotency_key_replays_the_invitation(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container, ann: Account, acme: str
) -> None:
    headers = {**ann.headers(acme), "Idempotency-Key": "invite-bob"}
    payload = {"email": "bob@example.com", "role": "viewer"}

    first = await client.post("/v1/invitations", headers=headers, json=payload)
    again = await client.post("/v1/invitations", headers=headers, json=payload)
    other = await client.post(
        "/v1/invitations", headers=headers, json={**payload, "role": "editor"}
    )

    assert (first.status_code, again.status_code) == (201, 201)
    await expect_mailed(mailbox, "bob@example.com", first, nth=1)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert_problem(other, 409, "idempotency_key_reused")
    assert await count_rows(container.db, Invitation) == 1


# --- who may do what ------------------------------------------------------------------------


@pytest.mark.catalogue(32)
@pytest.mark.parametrize("route", ROUTES, ids=str)
async def test_invitation_routes_check_token_tenant_and_role(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container, route: Route
) -> None:
    org = await make_org(client, mailbox, container)
    outsider = await register(client, mailbox, "outsider@example.com")
    body, _ = await invited(client, mailbox, org.members["owner"], org.tenant_id, "x@example.com")

    await assert_guarded(client, route, org=org, outsider=outsider, invitation=body["id"])

    assert (await listed(client, org.members["owner"], org.tenant_id)).keys() == {body["id"]}


@pytest.mark.parametrize("answer", ["accept", "decline"])
async def test_answering_needs_a_token(client: httpx.AsyncClient, answer: str) -> None:
    response = await client.post(f"/v1/invitations/{answer}", json={"token": "inv_x"})

    assert_problem(response, 401, "missing_token")


@pytest.mark.catalogue(24)
@pytest.mark.parametrize("route", [r for r in ROUTES if "{invitation}" in r.path], ids=str)
async def test_another_tenants_invitation_is_not_found(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    ann: Account,
    bob: Account,
    acme: str,
    route: Route,
) -> None:
    theirs, token = await invited(client, mailbox, bob, bob.tenant_id, "carol@example.com")

    response = await client.request(
        route.method, route.path.format(invitation=theirs["id"]), headers=ann.headers(acme)
    )

    assert_problem(response, 404, "invitation_not_found")
    assert (await preview(client, token)).json()["status"] == "pending"
    assert theirs["id"] not in await listed(client, ann, acme)


@pytest.mark.catalogue(32)
async def test_only_owners_invite_owners(
    client: httpx.AsyncClient, mailbox: Mailbox, ann: Account, bob: Account, acme: str
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, "admin")

    assert_problem(
        await invite(client, mailbox, bob, acme, "carol@example.com", "owner"),
        403,
        "insufficient_role",
    )
    assert (
        await invite(client, mailbox, bob, acme, "carol@example.com", "admin")
    ).status_code == 201
    assert (
        await invite(client, mailbox, ann, acme, "dave@example.com", "owner")
    ).status_code == 201


@pytest.mark.catalogue(32)
async def test_an_admin_cannot_resend_an_owners_invitation(
    client: httpx.AsyncClient, mailbox: Mailbox, ann: Account, bob: Account, acme: str
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, "admin")
    body, _ = await invited(client, mailbox, ann, acme, "carol@example.com", "owner")

    assert_problem(await resend(client, mailbox, bob, acme, body), 403, "insufficient_role")


# --- what can be invited --------------------------------------------------------------------


async def test_members_and_pending_addresses_cannot_be_invited_again(
    client: httpx.AsyncClient, mailbox: Mailbox, ann: Account, bob: Account, acme: str
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, "viewer")
    assert (await invite(client, mailbox, ann, acme, "carol@example.com")).status_code == 201

    assert_problem(
        await invite(client, mailbox, ann, acme, "BOB@example.com"), 409, "already_member"
    )
    assert_problem(
        await invite(client, mailbox, ann, acme, "ann@example.com"), 409, "already_member"
    )
    assert_problem(
        await invite(client, mailbox, ann, acme, "Carol@Example.com"), 409, "invitation_pending"
    )


@pytest.mark.parametrize(
    ("expires_in", "status"),
    [(0, 422), (-5, 422), (30 * DAY + 1, 422), ("soon", 422), (1, 201), (30 * DAY, 201)],
)
async def test_expires_in_is_one_second_to_thirty_days(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    ann: Account,
    acme: str,
    expires_in: object,
    status: int,
) -> None:
    response = await invite(client, mailbox, ann, acme, "bob@example.com", expires_in=expires_in)

    assert response.status_code == status, response.text
    if status == 201:
        body = response.json()
        lifetime = datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(
            body["created_at"]
        )
        assert lifetime == timedelta(seconds=int(str(expires_in)))


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "bob@example.com", "role": "superuser"},
        {"email": "not an email", "role": "viewer"},
        {"email": "bob@example.com"},
        {"role": "viewer"},
    ],
)
async def test_a_bad_invitation_body_is_422(
    client: httpx.AsyncClient, ann: Account, acme: str, payload: dict[str, Any]
) -> None:
    response = await client.post("/v1/invitations", headers=ann.headers(acme), json=payload)

    assert_problem(response, 422, "validation_error")


async def test_pending_invitations_count_toward_the_member_limit(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ShiftableClock, ann: Account, acme: str
) -> None:
    # The free plan allows 5 members: Ann plus four pending invitations fill it.
    guests = [
        (await invited(client, mailbox, ann, acme, f"guest{n}@example.com", expires_in=60))[0]
        for n in range(4)
    ]

    assert_problem(
        await invite(client, mailbox, ann, acme, "one-too-many@example.com"), 403, "plan_limit"
    )

    revoked = await client.delete(f"/v1/invitations/{guests[0]['id']}", headers=ann.headers(acme))
    assert revoked.status_code == 204
    assert (await invite(client, mailbox, ann, acme, "fifth@example.com")).status_code == 201
    assert_problem(await invite(client, mailbox, ann, acme, "sixth@example.com"), 403, "plan_limit")

    clock.advance(61)  # the three short invitations expire and free their seats
    assert (await invite(client, mailbox, ann, acme, "sixth@example.com")).status_code == 201
    assert (await resend(client, mailbox, ann, acme, guests[1])).status_code == 202
    assert (await resend(client, mailbox, ann, acme, guests[2])).status_code == 202
    assert_problem(await resend(client, mailbox, ann, acme, guests[3]), 403, "plan_limit")


# --- settling an invitation -----------------------------------------------------------------


@pytest.mark.catalogue(28)
async def test_only_the_invited_address_can_accept_or_decline(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    ann: Account,
    bob: Account,
    carol: Account,
    acme: str,
) -> None:
    _, token = await invited(client, mailbox, ann, acme, "bob@example.com")

    assert_problem(await accept(client, carol, token), 403, "invitation_email_mismatch")
    assert_problem(await decline(client, carol, token), 403, "invitation_email_mismatch")
    denied = await client.get("/v1/members", headers=carol.headers(acme))
    assert_problem(denied, 403, "tenant_access_denied")

    assert (await accept(client, bob, token)).status_code == 200


@pytest.mark.catalogue(30)
async def test_an_expired_invitation_is_gone_but_can_be_resent_or_revoked(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    clock: ShiftableClock,
    ann: Account,
    bob: Account,
    acme: str,
) -> None:
    body, token = await invited(client, mailbox, ann, acme, "bob@example.com", expires_in=600)
    clock.advance(601)  # within the access tokens' 15 minutes

    assert_problem(await accept(client, bob, token), 410, "invitation_expired")
    assert_problem(await decline(client, bob, token), 410, "invitation_expired")
    assert (await preview(client, token)).json()["status"] == "expired"
    assert (await listed(client, ann, acme))[body["id"]]["status"] == "expired"

    resent = await resend(client, mailbox, ann, acme, body)
    assert resent.status_code == 202, resent.text
    assert resent.json()["status"] == "pending"
    fresh = resent.json()["accept_url"].partition("token=")[2]
    assert (await accept(client, bob, fresh)).status_code == 200


async def test_revoking_an_expired_invitation_is_allowed(
    client: httpx.AsyncClient, mailbox: Mailbox, clock: ShiftableClock, ann: Account, acme: str
) -> None:
    body, _ = await invited(client, mailbox, ann, acme, "bob@example.com", expires_in=1)
    clock.advance(2)

    revoked = await client.delete(f"/v1/invitations/{body['id']}", headers=ann.headers(acme))

    assert revoked.status_code == 204
    assert (await listed(client, ann, acme))[body["id"]]["status"] == "revoked"


async def test_resend_mails_a_new_token_and_kills_the_old_one(
    client: httpx.AsyncClient, mailbox: Mailbox, ann: Account, bob: Account, acme: str
) -> None:
    body, old = await invited(client, mailbox, ann, acme, "bob@example.com", expires_in=60)

    resent = await resend(client, mailbox, ann, acme, body, expires_in=2 * DAY)

    assert resent.status_code == 202, resent.text
    new = await mailed_invitation_token(mailbox, bob.email, nth=2)
    assert new != old
    assert resent.json()["id"] == body["id"]
    assert resent.json()["expires_at"] > body["expires_at"]
    assert_problem(await preview(client, old), 404, "invitation_not_found")
    assert_problem(await accept(client, bob, old), 404, "invitation_not_found")
    assert (await accept(client, bob, new)).status_code == 200


@pytest.mark.catalogue(30)
async def test_a_revoked_invitation_cannot_be_used_or_revived(
    client: httpx.AsyncClient, mailbox: Mailbox, ann: Account, bob: Account, acme: str
) -> None:
    body, token = await invited(client, mailbox, ann, acme, "bob@example.com")
    path = f"/v1/invitations/{body['id']}"

    assert (await client.delete(path, headers=ann.headers(acme))).status_code == 204

    assert_problem(await accept(client, bob, token), 409, "invitation_revoked")
    assert_problem(await decline(client, bob, token), 409, "invitation_revoked")
    assert_problem(await client.delete(path, headers=ann.headers(acme)), 409, "invitation_revoked")
    assert_problem(await resend(client, mailbox, ann, acme, body), 409, "invitation_revoked")
    assert (await preview(client, token)).json()["status"] == "revoked"
    assert (await invite(client, mailbox, ann, acme, "bob@example.com")).status_code == 201


@pytest.mark.catalogue(30)
async def test_a_declined_invitation_is_settled(
    client: httpx.AsyncClient, mailbox: Mailbox, ann: Account, bob: Account, acme: str
) -> None:
    body, token = await invited(client, mailbox, ann, acme, "bob@example.com")
    path = f"/v1/invitations/{body['id']}"

    declined = await decline(client, bob, token)

    assert declined.status_code == 200
    assert declined.json() == {"status": "declined"}
    assert_problem(await accept(client, bob, token), 409, "invitation_declined")
    assert_problem(await decline(client, bob, token), 409, "invitation_declined")
    assert_problem(await client.delete(path, headers=ann.headers(acme)), 409, "invitation_declined")
    assert_problem(await resend(client, mailbox, ann, acme, body), 409, "invitation_declined")
    assert (await listed(client, ann, acme))[body["id"]]["status"] == "declined"
    denied = await client.get("/v1/members", headers=bob.headers(acme))
    assert_problem(denied, 403, "tenant_access_denied")


async def test_accepting_while_already_a_member_is_a_conflict(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    container: Container,
    ann: Account,
    bob: Account,
    acme: str,
) -> None:
    _, token = await invited(client, mailbox, ann, acme, "bob@example.com", "admin")
    await add_member(container, tenant_id=acme, user_id=bob.user_id, role="viewer")

    assert_problem(await accept(client, bob, token), 409, "already_member")

    member = await client.get(f"/v1/members/{bob.user_id}", headers=bob.headers(acme))
    assert member.json()["role"] == "viewer"
    assert (await preview(client, token)).json()["status"] == "pending"


# --- races ----------------------------------------------------------------------------------


@pytest.fixture
async def http(container: Container, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a real server (two worker processes) sharing the test database."""
    assert container.settings is settings
    with running_server(settings, workers=2) as base_url:
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
        async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:
            yield client


@pytest.mark.catalogue(31)
@pytest.mark.parametrize("parallel", [2, 8])
async def test_parallel_accepts_create_one_membership(
    client: httpx.AsyncClient,
    http: httpx.AsyncClient,
    mailbox: Mailbox,
    container: Container,
    ann: Account,
    bob: Account,
    acme: str,
    parallel: int,
) -> None:
    _, token = await invited(client, mailbox, ann, acme, "bob@example.com")

    responses = await asyncio.gather(*(accept(http, bob, token) for _ in range(parallel)))

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {200: 1, 409: parallel - 1}, statuses
    assert {r.json()["code"] for r in responses if r.status_code == 409} <= {
        "invitation_accepted",
        "already_member",
    }
    joined = Membership.tenant_id == uuid.UUID(acme), Membership.user_id == uuid.UUID(bob.user_id)
    assert await count_rows(container.db, Membership, *joined) == 1


# --- the mail allowance (issue 18 item 6) ---------------------------------------------------


def assert_too_many_emails(response: httpx.Response, window: int) -> None:
    assert_problem(response, 429, "too_many_emails")
    assert 0 < int(response.headers["Retry-After"]) <= window


# windows within the access tokens' 15 minutes, so that the clock can pass them
@pytest.mark.parametrize("settings", [{"invitation_mail_window": 600}], indirect=True)
async def test_resends_stop_at_the_address_allowance(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    container: Container,
    clock: ShiftableClock,
    ann: Account,
    bob: Account,
    acme: str,
) -> None:
    limit, window = (
        container.settings.invitation_mail_limit,
        container.settings.invitation_mail_window,
    )
    body, first = await invited(client, mailbox, ann, acme, "bob@example.com")
    for _ in range(limit - 1):
        assert (await resend(client, mailbox, ann, acme, body)).status_code == 202
    last = invitation_tokens(mailbox, "bob@example.com")[-1]
    before = (await listed(client, ann, acme))[body["id"]]

    assert_too_many_emails(await resend(client, mailbox, ann, acme, body), window)

    await asyncio.sleep(0.5)  # the mail worker has had its chance to send one more
    assert len(invitation_tokens(mailbox, "bob@example.com")) == limit
    assert (await listed(client, ann, acme))[body["id"]] == before  # no new expiry
    resent = DomainEvent.type == "invitation.resent"
    assert await count_rows(container.db, DomainEvent, resent) == limit - 1
    clock.advance(window + 1)
    assert (await resend(client, mailbox, ann, acme, body)).status_code == 202
    assert_problem(await accept(client, bob, last), 404, "invitation_not_found")
    assert first != last


async def test_the_address_allowance_spans_tenants(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    container: Container,
    ann: Account,
    bob: Account,
    acme: str,
) -> None:
    """Many tenants (anyone may create one) cannot flood one address together."""
    body, _ = await invited(client, mailbox, ann, acme, "carol@example.com")
    for _ in range(container.settings.invitation_mail_limit - 1):
        assert (await resend(client, mailbox, ann, acme, body)).status_code == 202

    refused = await invite(client, mailbox, bob, bob.tenant_id, "Carol@example.com")

    assert_too_many_emails(refused, container.settings.invitation_mail_window)
    assert "carol@example.com" not in {
        i["email"] for i in (await listed(client, bob, bob.tenant_id)).values()
    }
    assert (
        await invite(client, mailbox, bob, bob.tenant_id, "dave@example.com")
    ).status_code == 201


@pytest.mark.parametrize(
    "settings",
    [{"tenant_invitation_mail_limit": 3, "tenant_invitation_mail_window": 600}],
    indirect=True,
)
async def test_a_tenant_stops_at_its_allowance(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    container: Container,
    clock: ShiftableClock,
    ann: Account,
    bob: Account,
    acme: str,
) -> None:
    window = container.settings.tenant_invitation_mail_window
    first, _ = await invited(client, mailbox, ann, acme, "guest1@example.com")
    await invited(client, mailbox, ann, acme, "guest2@example.com")
    assert (await resend(client, mailbox, ann, acme, first)).status_code == 202

    assert_too_many_emails(await invite(client, mailbox, ann, acme, "guest3@example.com"), window)
    assert_too_many_emails(await resend(client, mailbox, ann, acme, first), window)

    assert len(await listed(client, ann, acme)) == 2
    assert (
        await invite(client, mailbox, bob, bob.tenant_id, "guest3@example.com")
    ).status_code == 201
    clock.advance(window + 1)
    assert (await invite(client, mailbox, ann, acme, "guest3@example.com")).status_code == 201


async def test_parallel_resends_are_counted_exactly(
    client: httpx.AsyncClient,
    http: httpx.AsyncClient,
    mailbox: Mailbox,
    container: Container,
    ann: Account,
    acme: str,
) -> None:
    limit = container.settings.invitation_mail_limit
    body, _ = await invited(client, mailbox, ann, acme, "bob@example.com")
    path = f"/v1/invitations/{body['id']}/resend"

    responses = await asyncio.gather(
        *(http.post(path, headers=ann.headers(acme)) for _ in range(12))
    )

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {202: limit - 1, 429: 12 - (limit - 1)}, statuses
    assert {r.json()["code"] for r in responses if r.status_code == 429} == {"too_many_emails"}
    await mailbox.wait_for("bob@example.com", count=limit)
    await asyncio.sleep(0.5)  # the mail workers have had their chance to send more
    assert len(invitation_tokens(mailbox, "bob@example.com")) == limit
    resent = DomainEvent.type == "invitation.resent"
    assert await count_rows(container.db, DomainEvent, resent) == limit - 1


async def test_graphql_create_invitation_is_throttled_alike(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container, ann: Account, acme: str
) -> None:
    body, _ = await invited(client, mailbox, ann, acme, "bob@example.com")
    for _ in range(container.settings.invitation_mail_limit - 1):
        assert (await resend(client, mailbox, ann, acme, body)).status_code == 202
    await client.delete(f"/v1/invitations/{body['id']}", headers=ann.headers(acme))
    query = 'mutation { createInvitation(email: "bob@example.com", role: VIEWER) { id } }'

    answer = await client.post("/graphql", headers=ann.headers(acme), json={"query": query})

    assert answer.status_code == 200
    [error] = answer.json()["errors"]
    assert error["extensions"]["code"] == "TOO_MANY_REQUESTS"
    assert error["extensions"]["reason"] == "too_many_emails"
    assert 0 < error["extensions"]["retryAfter"] <= container.settings.invitation_mail_window


async def test_the_people_page_says_when_to_try_again(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container, ann: Account, acme: str
) -> None:
    body, _ = await invited(client, mailbox, ann, acme, "bob@example.com")
    for _ in range(container.settings.invitation_mail_limit - 1):
        assert (await resend(client, mailbox, ann, acme, body)).status_code == 202
    csrf = await web_sign_in(client, ann)
    people = f"/app/t/{acme}"

    resent = await client.post(
        f"{people}/invitations/{body['id']}/resend", data={"csrf_token": csrf}
    )
    csrf = csrf_of(resent.text)
    await client.delete(f"/v1/invitations/{body['id']}", headers=ann.headers(acme))
    invited_again = await client.post(
        f"{people}/invitations",
        data={"csrf_token": csrf, "emails": "bob@example.com", "role": "viewer"},
    )

    for refused in (resent, invited_again):
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("text/html")
        assert int(refused.headers["Retry-After"]) > 0
        assert "Too many attempts. Try again in 60 minutes." in refused.text


# --- an invitation is only as good as its inviter (issue 18 item 9) -------------------------


async def statuses(client: httpx.AsyncClient, owner: Account, tenant_id: str) -> dict[str, str]:
    """Each invitation's status by address."""
    return {i["email"]: i["status"] for i in (await listed(client, owner, tenant_id)).values()}


async def revocations(container: Container) -> tuple[int, int]:
    """How many `invitation.revoked` events and audit entries there are."""
    events = await count_rows(container.db, DomainEvent, DomainEvent.type == "invitation.revoked")
    audited = await count_rows(container.db, AuditEntry, AuditEntry.action == "invitation.revoked")
    return events, audited


@pytest.mark.parametrize("leaving", [False, True], ids=["evicted", "left"])
async def test_an_inviter_who_goes_takes_their_invitations(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    container: Container,
    ann: Account,
    bob: Account,
    carol: Account,
    acme: str,
    leaving: bool,
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, "admin")
    _, token = await invited(client, mailbox, bob, acme, "carol@example.com", "editor")
    await invited(client, mailbox, bob, acme, "dave@example.com", "admin")
    await invited(client, mailbox, ann, acme, "erin@example.com", "viewer")

    gone = await client.delete(
        f"/v1/members/{bob.user_id}", headers=(bob if leaving else ann).headers(acme)
    )

    assert gone.status_code == 204, gone.text
    assert_problem(await accept(client, carol, token), 409, "invitation_revoked")
    assert_problem(
        await client.get("/v1/members", headers=carol.headers(acme)), 403, "tenant_access_denied"
    )
    assert await statuses(client, ann, acme) == {
        "bob@example.com": "accepted",
        "carol@example.com": "revoked",
        "dave@example.com": "revoked",
        "erin@example.com": "pending",
    }
    assert (await preview(client, token)).json()["status"] == "revoked"
    assert await revocations(container) == (2, 2)


@pytest.mark.parametrize(
    ("inviter", "demoted", "kept"),
    [
        ("admin", "editor", set()),
        ("admin", "viewer", set()),
        ("owner", "admin", {"admin", "editor"}),
        ("owner", "editor", set()),
    ],
)
async def test_a_demoted_inviter_keeps_only_what_they_may_still_grant(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    container: Container,
    ann: Account,
    bob: Account,
    carol: Account,
    acme: str,
    inviter: str,
    demoted: str,
    kept: set[str],
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, inviter)
    invitees = {
        "owner": "carol@example.com",
        "admin": "dave@example.com",
        "editor": "erin@example.com",
    }
    tokens = {
        role: (await invited(client, mailbox, bob, acme, email, role))[1]
        for role, email in invitees.items()
        if role != "owner" or inviter == "owner"
    }

    changed = await client.patch(
        f"/v1/members/{bob.user_id}", headers=ann.headers(acme), json={"role": demoted}
    )

    assert changed.status_code == 200, changed.text
    expected = {invitees[role]: "pending" if role in kept else "revoked" for role in tokens}
    assert await statuses(client, ann, acme) == {"bob@example.com": "accepted", **expected}
    revoked = len(tokens) - len(kept)
    assert await revocations(container) == (revoked, revoked)
    owner_invitation = tokens.get("owner")
    if owner_invitation is not None:
        assert_problem(await accept(client, carol, owner_invitation), 409, "invitation_revoked")


async def test_a_promotion_or_an_unchanged_role_revokes_nothing(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    container: Container,
    ann: Account,
    bob: Account,
    carol: Account,
    acme: str,
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, "admin")
    _, token = await invited(client, mailbox, bob, acme, "carol@example.com", "admin")

    for role in ("owner", "admin"):
        changed = await client.patch(
            f"/v1/members/{bob.user_id}", headers=ann.headers(acme), json={"role": role}
        )
        assert changed.status_code == 200, changed.text

    assert await revocations(container) == (0, 0)
    assert (await accept(client, carol, token)).json() == {"tenant_id": acme, "role": "admin"}


async def test_accepting_checks_the_inviter_again(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    container: Container,
    ann: Account,
    bob: Account,
    carol: Account,
    acme: str,
) -> None:
    """Invitations sent before revocation on eviction existed, or whose inviter lost the
    role some other way, are refused at acceptance and revoked."""
    await invite_and_join(client, mailbox, ann, bob, acme, "admin")
    _, token = await invited(client, mailbox, bob, acme, "carol@example.com", "admin")
    async with container.db.transaction() as session:
        await session.execute(
            update(Membership)
            .where(Membership.user_id == uuid.UUID(bob.user_id))
            .values(role="editor")
        )

    assert_problem(await accept(client, carol, token), 409, "invitation_revoked")

    assert (await statuses(client, ann, acme))["carol@example.com"] == "revoked"
    assert await revocations(container) == (1, 1)
    assert_problem(
        await client.get("/v1/members", headers=carol.headers(acme)), 403, "tenant_access_denied"
    )


async def test_a_disabled_inviters_invitations_are_not_admitted(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    container: Container,
    operator: Account,
    ann: Account,
    bob: Account,
    carol: Account,
    acme: str,
) -> None:
    await invite_and_join(client, mailbox, ann, bob, acme, "admin")
    _, token = await invited(client, mailbox, bob, acme, "carol@example.com", "editor")
    disabled = await client.post(
        f"/v1/admin/users/{bob.user_id}/disable", headers=bearer(operator.access_token)
    )
    assert disabled.status_code == 204, disabled.text
    assert (await statuses(client, ann, acme))["carol@example.com"] == "pending"

    assert_problem(await accept(client, carol, token), 409, "invitation_revoked")

    assert (await statuses(client, ann, acme))["carol@example.com"] == "revoked"


@pytest.mark.parametrize("settings", [{"invitation_mail_limit": 100}], indirect=True)
async def test_an_eviction_raced_by_an_acceptance(
    client: httpx.AsyncClient,
    http: httpx.AsyncClient,
    mailbox: Mailbox,
    container: Container,
    ann: Account,
    bob: Account,
    carol: Account,
    acme: str,
) -> None:
    """Both take the tenant lock: the acceptance either commits first, while its inviter is
    still a member, or finds the invitation revoked. Never a membership after the eviction."""
    outcomes: Counter[int] = Counter()
    for _ in range(6):
        await add_member(container, tenant_id=acme, user_id=bob.user_id, role="admin")
        _, token = await invited(client, mailbox, bob, acme, "carol@example.com", "viewer")

        evicted, accepted = await asyncio.gather(
            http.delete(f"/v1/members/{bob.user_id}", headers=ann.headers(acme)),
            accept(http, carol, token),
        )

        assert evicted.status_code == 204, evicted.text
        outcomes[accepted.status_code] += 1
        members = await client.get("/v1/members", headers=ann.headers(acme))
        emails = {m["email"] for m in members.json()["items"]}
        status = (await statuses(client, ann, acme))["carol@example.com"]
        if accepted.status_code == 200:
            assert (status, "carol@example.com" in emails) == ("accepted", True)
            removed = await client.delete(f"/v1/members/{carol.user_id}", headers=ann.headers(acme))
            assert removed.status_code == 204
        else:
            assert_problem(accepted, 409, "invitation_revoked")
            assert (status, "carol@example.com" in emails) == ("revoked", False)
    assert set(outcomes) <= {200, 409}
