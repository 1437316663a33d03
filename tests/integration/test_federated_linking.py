"""External identities never take over existing accounts (issue 18 item 1): a first sight
whose address has an account is refused until its holder links the identity from a signed-in
session; platform admins are never reached through an issuer; issuers may be limited to the
domains they vouch for. Against a real HTTP JWKS server and, for the takeover, a real server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from tenantry.bootstrap import Container
from tenantry.domain.identity.issuers import TrustedIssuer
from tenantry.domain.provider.admins import ensure_platform_admin
from tenantry.settings import Settings
from tenantry.storage.models import ExternalIdentity, User
from tenantry.storage.tables import table
from tenantry.transports.rest.app import create_app
from tests.support.api import (
    OPERATOR_EMAIL,
    OPERATOR_PASSWORD,
    Account,
    bearer,
    register,
    sign_in,
)
from tests.support.clock import ShiftableClock
from tests.support.counts import ONE_WORKSPACE, count_rows, workspace_counts
from tests.support.jwks_server import ExternalIssuer
from tests.support.mailbox import Mailbox
from tests.support.server import running_server

pytestmark = pytest.mark.integration

Federated = tuple[Container, httpx.AsyncClient]


def trusted(idp: ExternalIssuer, allowed_domains: list[str] | None = None) -> TrustedIssuer:
    return TrustedIssuer(
        issuer=idp.issuer,
        jwks_uri=idp.jwks_uri,
        audience=idp.audience,
        allowed_domains=allowed_domains,
    )


async def federated_app(
    settings: Settings, clock: ShiftableClock, issuer: TrustedIssuer
) -> AsyncIterator[Federated]:
    container = Container(settings.model_copy(update={"trusted_issuers": [issuer]}), clock=clock)
    await container.start(migrate=False)
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield container, client
    await container.stop()


@pytest.fixture
async def federated(
    settings: Settings, clock: ShiftableClock, idp: ExternalIssuer
) -> AsyncIterator[Federated]:
    async for pair in federated_app(settings, clock, trusted(idp)):
        yield pair


async def me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/v1/me", headers=bearer(token))


async def link(client: httpx.AsyncClient, account: Account, token: str) -> httpx.Response:
    return await client.post(
        "/v1/me/identities", json={"token": token}, headers=bearer(account.access_token)
    )


async def links(container: Container) -> list[tuple[str, str]]:
    async with container.db.read() as session:
        rows = await session.execute(select(ExternalIdentity.subject, ExternalIdentity.user_id))
        return [(subject, str(user_id)) for subject, user_id in rows]


# -- no takeover on first sight ----------------------------------------------------------------


async def test_a_token_naming_a_platform_admins_address_reaches_nothing_on_a_real_server(
    container: Container,
    settings: Settings,
    idp: ExternalIssuer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The review's attack: an issuer's token with the operator's address got /v1/admin."""
    await ensure_platform_admin(
        container.identity, email=OPERATOR_EMAIL, password=OPERATOR_PASSWORD
    )
    entry = {"issuer": idp.issuer, "jwks_uri": idp.jwks_uri, "audience": idp.audience}
    monkeypatch.setenv("TENANTRY_TRUSTED_ISSUERS", json.dumps([entry]))
    token = idp.token(email=OPERATOR_EMAIL)
    with running_server(settings) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            tenants = await client.get("/v1/admin/tenants", headers=bearer(token))
            profile = await me(client, token)
    assert tenants.status_code == 409, tenants.text
    assert tenants.json()["code"] == "account_exists"
    assert profile.json()["code"] == "account_exists"
    assert await count_rows(container.db, ExternalIdentity) == 0


@pytest.mark.parametrize("confirmed", [True, False])
async def test_a_first_sight_of_an_existing_address_is_refused_and_links_nothing(
    federated: Federated, idp: ExternalIssuer, mailbox: Mailbox, confirmed: bool
) -> None:
    container, client = federated
    if confirmed:
        await register(client, mailbox, "fed@example.com")
    else:
        signup = {"email": "fed@example.com", "password": "a password of the attacker"}
        assert (await client.post("/v1/auth/signup", json=signup)).status_code == 202
    refused = await me(client, idp.token())
    again = await me(client, idp.token())
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert again.json()["code"] == refused.json()["code"] == "account_exists"
    assert await count_rows(container.db, ExternalIdentity) == 0
    assert await count_rows(container.db, User) == 1


@pytest.mark.parametrize("email_verified", [False, None, "true"])
async def test_an_unverified_email_claim_is_never_trusted_for_an_existing_address(
    federated: Federated, idp: ExternalIssuer, mailbox: Mailbox, email_verified: object
) -> None:
    container, client = federated
    await register(client, mailbox, "fed@example.com")
    response = await me(client, idp.token(email_verified=email_verified))
    assert response.status_code == 401
    assert response.json()["code"] == "external_email_unverified"
    assert await count_rows(container.db, ExternalIdentity) == 0


# -- allowed domains ---------------------------------------------------------------------------


@pytest.fixture
async def restricted(
    settings: Settings, clock: ShiftableClock, idp: ExternalIssuer
) -> AsyncIterator[Federated]:
    async for pair in federated_app(settings, clock, trusted(idp, ["Corp.Example"])):
        yield pair


async def test_an_issuer_limited_to_domains_creates_accounts_on_those_only(
    restricted: Federated, idp: ExternalIssuer
) -> None:
    container, client = restricted
    outside = await me(client, idp.token(email="fed@example.com"))
    lookalike = await me(client, idp.token(sub="s2", email="fed@evil-corp.example"))
    sub_domain = await me(client, idp.token(sub="s3", email="fed@x.corp.example"))
    inside = await me(client, idp.token(sub="s4", email="Fed@CORP.example"))
    for refused in (outside, lookalike, sub_domain):
        assert refused.status_code == 401
        assert refused.json()["code"] == "external_email_domain_not_allowed"
    assert inside.status_code == 200, inside.text
    assert await count_rows(container.db, User) == 1


def test_allowed_domains_come_from_the_issuer_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = {"issuer": "https://i", "jwks_uri": "https://i/jwks", "audience": "a"}
    monkeypatch.setenv(
        "TENANTRY_TRUSTED_ISSUERS", json.dumps([{**entry, "allowed_domains": ["Corp.Example"]}])
    )
    (issuer,) = Settings().trusted_issuers
    assert issuer.may_assert("ann@corp.example")
    assert not issuer.may_assert("ann@example.com")


# -- linking from a signed-in session ----------------------------------------------------------


async def test_the_holder_links_an_identity_then_its_tokens_act_as_them(
    federated: Federated, idp: ExternalIssuer, mailbox: Mailbox
) -> None:
    container, client = federated
    local = await register(client, mailbox, "fed@example.com")
    assert (await me(client, idp.token())).status_code == 409
    linked = await link(client, local, idp.token())
    again = await link(client, local, idp.token())
    assert linked.status_code == again.status_code == 201, linked.text
    assert linked.json()["issuer"] == idp.issuer
    assert linked.json()["subject"] == "ext-user-1"
    assert (await me(client, idp.token())).json()["id"] == local.user_id
    listed = await client.get("/v1/me/identities", headers=bearer(local.access_token))
    assert [item["subject"] for item in listed.json()["items"]] == ["ext-user-1"]
    notice = await mailbox.wait_for("fed@example.com", count=2)
    assert idp.issuer in notice.text and "Wasn't you?" in notice.text
    assert len(mailbox.messages("fed@example.com")) == 2  # the code, then one notice
    assert await workspace_counts(container.db) == ONE_WORKSPACE


async def test_a_linked_identity_is_audited(
    federated: Federated, idp: ExternalIssuer, mailbox: Mailbox
) -> None:
    container, client = federated
    local = await register(client, mailbox, "ann@example.com")
    await link(client, local, idp.token())
    async with container.db.read() as session:
        entries = table("audit_entries")
        row = (
            await session.execute(
                select(entries.c.actor_id, entries.c.data).where(
                    entries.c.action == "identity.linked"
                )
            )
        ).one()
    assert str(row.actor_id) == local.user_id
    assert row.data == {"issuer": idp.issuer, "subject": "ext-user-1"}


async def test_an_identity_linked_to_one_account_is_not_moved_to_another(
    federated: Federated, idp: ExternalIssuer, mailbox: Mailbox
) -> None:
    container, client = federated
    first = await me(client, idp.token())
    other = await register(client, mailbox, "ann@example.com")
    moved = await link(client, other, idp.token())
    assert moved.status_code == 409
    assert moved.json()["code"] == "identity_already_linked"
    assert await links(container) == [("ext-user-1", first.json()["id"])]


async def test_linking_needs_a_local_session_and_a_valid_trusted_token(
    federated: Federated, idp: ExternalIssuer, mailbox: Mailbox
) -> None:
    container, client = federated
    local = await register(client, mailbox, "ann@example.com")
    outsider = ExternalIssuer(clock=idp.clock, issuer="https://untrusted.example.com")
    cases = {
        "not a token": "invalid_external_token",
        idp.token(aud="someone-else"): "invalid_external_token",
        idp.token(exp=1): "invalid_external_token",
        outsider.token(): "invalid_external_token",
        local.access_token: "invalid_external_token",
    }
    for token, code in cases.items():
        response = await link(client, local, token)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == code
    external = await me(client, idp.token(sub="s2", email="new@example.com"))
    assert external.status_code == 200
    by_external = await client.post(
        "/v1/me/identities", json={"token": idp.token()}, headers=bearer(idp.token(sub="s2"))
    )
    assert by_external.status_code == 403
    assert by_external.json()["code"] == "local_session_required"
    anonymous = await client.post("/v1/me/identities", json={"token": idp.token()})
    assert anonymous.status_code == 401
    malformed = await client.post(
        "/v1/me/identities", json={"token": ""}, headers=bearer(local.access_token)
    )
    assert malformed.status_code == 422
    assert await links(container) == [("s2", external.json()["id"])]


async def test_platform_admins_are_never_linked(
    federated: Federated, idp: ExternalIssuer, container: Container
) -> None:
    _container, client = federated
    await ensure_platform_admin(
        container.identity, email=OPERATOR_EMAIL, password=OPERATOR_PASSWORD
    )
    operator = await sign_in(client, OPERATOR_EMAIL, OPERATOR_PASSWORD)
    response = await link(client, operator, idp.token(email=OPERATOR_EMAIL))
    assert response.status_code == 403
    assert response.json()["code"] == "platform_admin_not_linkable"
    assert await count_rows(container.db, ExternalIdentity) == 0


async def test_an_account_promoted_after_linking_is_refused_through_the_issuer(
    federated: Federated, idp: ExternalIssuer, container: Container
) -> None:
    _container, client = federated
    assert (await me(client, idp.token(email=OPERATOR_EMAIL))).status_code == 200
    await ensure_platform_admin(
        container.identity, email=OPERATOR_EMAIL, password=OPERATOR_PASSWORD
    )
    refused = await client.get("/v1/admin/tenants", headers=bearer(idp.token()))
    profile = await me(client, idp.token())
    assert refused.status_code == profile.status_code == 403
    assert profile.json()["code"] == "external_token_refused"
    operator = await sign_in(client, OPERATOR_EMAIL, OPERATOR_PASSWORD)
    assert (await client.get("/v1/admin/tenants", headers=operator.headers())).status_code == 200
