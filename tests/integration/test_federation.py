"""Tokens from trusted external issuers (SPEC §4, `TENANTRY_TRUSTED_ISSUERS`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import func, select

from tenantry.bootstrap import Container
from tenantry.settings import Settings, TrustedIssuer
from tenantry.storage.models import ExternalIdentity, Tenant
from tenantry.transports.rest.app import create_app
from tests.support.api import bearer, register
from tests.support.clock import ShiftableClock
from tests.support.jwks_server import ExternalIssuer
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.integration


@pytest.fixture
def idp() -> Iterator[ExternalIssuer]:
    issuer = ExternalIssuer()
    issuer.start()
    yield issuer
    issuer.stop()


@pytest.fixture
async def federated(
    settings: Settings, clock: ShiftableClock, idp: ExternalIssuer
) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    trusted = TrustedIssuer(issuer=idp.issuer, jwks_uri=idp.jwks_uri, audience=idp.audience)
    container = Container(settings.model_copy(update={"trusted_issuers": [trusted]}), clock=clock)
    await container.start(migrate=False)
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield container, client
    await container.stop()


async def test_first_sight_creates_and_onboards_the_user_once(
    federated: tuple[Container, httpx.AsyncClient], idp: ExternalIssuer
) -> None:
    container, client = federated
    token = idp.token()
    first = await client.get("/v1/me", headers=bearer(token))
    second = await client.get("/v1/me", headers=bearer(idp.token()))
    assert first.status_code == 200, first.text
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["email"] == "fed@example.com"
    tenant = first.json()["default_tenant_id"]
    projects = await client.get("/v1/projects", headers={**bearer(token), "X-Tenant-ID": tenant})
    assert projects.status_code == 200
    async with container.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Tenant)) == 1
        assert await session.scalar(select(func.count()).select_from(ExternalIdentity)) == 1


async def test_an_existing_account_is_linked_only_on_a_verified_email(
    federated: tuple[Container, httpx.AsyncClient], idp: ExternalIssuer, mailbox: Mailbox
) -> None:
    _container, client = federated
    local = await register(client, mailbox, "fed@example.com")
    unverified = await client.get(
        "/v1/me", headers=bearer(idp.token(sub="other", email_verified=False))
    )
    verified = await client.get("/v1/me", headers=bearer(idp.token()))
    assert unverified.status_code == 401
    assert unverified.json()["code"] == "external_email_conflict"
    assert verified.json()["id"] == local.user_id


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "someone-else"},
        {"aud": None},
        {"exp": 1},
        {"iss": "https://evil.example.com"},
        {"email": None, "sub": "no-email"},
        {"nbf": 4_000_000_000},
    ],
)
async def test_bad_external_tokens_are_refused(
    federated: tuple[Container, httpx.AsyncClient], idp: ExternalIssuer, claims: dict[str, Any]
) -> None:
    _container, client = federated
    response = await client.get("/v1/me", headers=bearer(idp.token(**claims)))
    assert response.status_code == 401


async def test_cognito_style_client_id_is_accepted_as_audience(
    federated: tuple[Container, httpx.AsyncClient], idp: ExternalIssuer
) -> None:
    _container, client = federated
    token = idp.token(aud=None, client_id=idp.audience, token_use="access")
    assert (await client.get("/v1/me", headers=bearer(token))).status_code == 200


async def test_forged_external_tokens_are_refused(
    federated: tuple[Container, httpx.AsyncClient], idp: ExternalIssuer
) -> None:
    _container, client = federated
    claims = jwt.decode(idp.token(), options={"verify_signature": False})
    hmac_token = jwt.encode(claims, "s" * 32, algorithm="HS256", headers={"kid": idp.kid})
    unknown_kid = idp.token(headers={"kid": "nope"})
    jku = idp.token(headers={"jku": "http://127.0.0.1:1/keys"})
    for token in (hmac_token, unknown_kid, jku):
        assert (await client.get("/v1/me", headers=bearer(token))).status_code == 401


async def test_issuers_not_configured_are_not_trusted(
    client: httpx.AsyncClient, idp: ExternalIssuer
) -> None:
    response = await client.get("/v1/me", headers=bearer(idp.token()))
    assert response.status_code == 401
    assert idp.requests == 0


async def test_an_external_token_is_verified_once_and_dies_at_its_expiry(
    federated: tuple[Container, httpx.AsyncClient],
    idp: ExternalIssuer,
    clock: ShiftableClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    container, client = federated
    tokens = container.authenticator._federated
    calls = 0
    original = tokens.verify

    async def counting_verify(token: str, *, issuer: str) -> Any:
        nonlocal calls
        calls += 1
        return await original(token, issuer=issuer)

    monkeypatch.setattr(tokens, "verify", counting_verify)
    token = idp.token()
    for _ in range(3):
        assert (await client.get("/v1/me", headers=bearer(token))).status_code == 200
    assert calls == 1
    clock.advance(601)
    assert (await client.get("/v1/me", headers=bearer(token))).status_code == 401
