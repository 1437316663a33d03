"""Tokens from trusted external issuers (SPEC §4, `TENANTRY_TRUSTED_ISSUERS`; docs/federation.md),
against a real HTTP JWKS server standing in for Cognito."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from tenantry.adapters import jwks
from tenantry.bootstrap import Container
from tenantry.domain.identity import federation
from tenantry.domain.identity.issuers import TrustedIssuer
from tenantry.settings import Settings
from tenantry.storage.models import ExternalIdentity, User
from tenantry.transports.rest.app import create_app
from tests.support.api import bearer
from tests.support.clock import ShiftableClock
from tests.support.counts import ONE_WORKSPACE, count_rows, workspace_counts
from tests.support.jwks_server import HMAC_KID, HMAC_SECRET, ExternalIssuer, JwksMode, forge
from tests.support.server import running_server

pytestmark = pytest.mark.integration

Federated = tuple[Container, httpx.AsyncClient]
REFRESH = federation.JWKS_REFRESH_INTERVAL.total_seconds()
MAX_AGE = federation.JWKS_MAX_AGE.total_seconds()


@pytest.fixture
async def federated(
    settings: Settings, clock: ShiftableClock, idp: ExternalIssuer
) -> AsyncIterator[Federated]:
    trusted = TrustedIssuer(issuer=idp.issuer, jwks_uri=idp.jwks_uri, audience=idp.audience)
    container = Container(settings.model_copy(update={"trusted_issuers": [trusted]}), clock=clock)
    await container.start(migrate=False)
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield container, client
    await container.stop()


async def me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/v1/me", headers=bearer(token))


# -- first sight ------------------------------------------------------------------------------


async def test_first_sight_creates_and_onboards_the_user_once(
    federated: Federated, idp: ExternalIssuer
) -> None:
    container, client = federated
    token = idp.token()
    first = await me(client, token)
    second = await me(client, idp.token())
    assert first.status_code == 200, first.text
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["email"] == "fed@example.com"
    tenant = first.json()["default_tenant_id"]
    projects = await client.get("/v1/projects", headers={**bearer(token), "X-Tenant-ID": tenant})
    assert projects.status_code == 200
    assert await workspace_counts(container.db) == ONE_WORKSPACE
    assert await count_rows(container.db, ExternalIdentity) == 1


async def test_parallel_first_sights_create_one_user(
    federated: Federated, idp: ExternalIssuer
) -> None:
    container, client = federated
    responses = await asyncio.gather(*(me(client, idp.token()) for _ in range(10)))
    assert [response.status_code for response in responses] == [200] * 10
    assert len({response.json()["id"] for response in responses}) == 1
    assert await workspace_counts(container.db) == ONE_WORKSPACE
    assert await count_rows(container.db, ExternalIdentity) == 1
    assert idp.requests == 1  # the first fetch is shared, not repeated by each waiting request


async def test_parallel_first_sights_across_server_processes_create_one_user(
    container: Container,
    settings: Settings,
    idp: ExternalIssuer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trusted = {"issuer": idp.issuer, "jwks_uri": idp.jwks_uri, "audience": idp.audience}
    monkeypatch.setenv("TENANTRY_TRUSTED_ISSUERS", json.dumps([trusted]))
    with running_server(settings, workers=2) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            responses = await asyncio.gather(*(me(client, idp.token()) for _ in range(20)))
    assert [response.status_code for response in responses] == [200] * 20
    assert len({response.json()["id"] for response in responses}) == 1
    assert await workspace_counts(container.db) == ONE_WORKSPACE
    assert await count_rows(container.db, ExternalIdentity) == 1


async def test_parallel_first_sights_of_two_subjects_with_one_address_make_one_account(
    federated: Federated, idp: ExternalIssuer
) -> None:
    """The subject that creates the account owns it; the other finds an existing account."""
    container, client = federated
    tokens = [idp.token(sub=f"sub-{index % 2}") for index in range(10)]
    responses = await asyncio.gather(*(me(client, token) for token in tokens))
    owners = {r.json()["id"] for r in responses if r.status_code == 200}
    refused = [r for r in responses if r.status_code != 200]
    assert len(owners) == 1 and len(refused) == 5
    assert {(r.status_code, r.json()["code"]) for r in refused} == {(409, "account_exists")}
    assert await workspace_counts(container.db) == ONE_WORKSPACE
    assert await count_rows(container.db, ExternalIdentity) == 1


# -- the email claim --------------------------------------------------------------------------


@pytest.mark.parametrize("email_verified", [False, None, "true", 1])
async def test_first_sight_needs_a_verified_email(
    federated: Federated, idp: ExternalIssuer, email_verified: object
) -> None:
    container, client = federated
    response = await me(client, idp.token(email_verified=email_verified))
    assert response.status_code == 401
    assert response.json()["code"] == "external_email_unverified"
    assert await count_rows(container.db, User) == 0


@pytest.mark.parametrize("email", [None, 42, "not-an-address", "x" * 320 + "@example.com"])
async def test_first_sight_needs_an_email(
    federated: Federated, idp: ExternalIssuer, email: object
) -> None:
    container, client = federated
    response = await me(client, idp.token(email=email))
    assert response.status_code == 401
    assert response.json()["code"] == "external_email_required"
    assert await count_rows(container.db, User) == 0


async def test_once_linked_the_email_claim_is_not_needed(
    federated: Federated, idp: ExternalIssuer
) -> None:
    """Cognito access tokens carry no email: after one token that did, they sign in."""
    _container, client = federated
    first = await me(client, idp.token())
    access = idp.token(aud=None, client_id=idp.audience, token_use="access", email=None)
    later = await me(client, access)
    assert later.status_code == 200, later.text
    assert later.json()["id"] == first.json()["id"]
    assert later.json()["email"] == "fed@example.com"


async def test_a_changed_or_unverified_email_claim_does_not_move_a_linked_user(
    federated: Federated, idp: ExternalIssuer
) -> None:
    container, client = federated
    first = await me(client, idp.token())
    moved = await me(client, idp.token(email="other@example.com", email_verified=False))
    assert moved.json() == first.json()
    assert await count_rows(container.db, User) == 1


# -- claims -----------------------------------------------------------------------------------


BAD_CLAIMS: list[dict[str, Any]] = [
    {"aud": "someone-else"},
    {"aud": ["someone-else", "another"]},
    {"aud": None},
    {"exp": 1},
    {"exp": "never"},
    {"exp": None},
    {"exp": float("inf")},
    {"exp": float("nan")},
    {"exp": True},
    {"iat": "today"},
    {"iat": None},
    {"iat": float("nan")},
    {"iss": "https://evil.example.com"},
    {"iss": None},
    {"sub": None},
    {"sub": ""},
    {"sub": 12345},
    {"sub": "s" * 256},
    {"nbf": 4_000_000_000},
    # Cognito access tokens: the app client in `client_id`, no `aud`.
    {"aud": None, "client_id": "someone-else", "token_use": "access"},
    {"aud": None, "client_id": "my-app-client", "token_use": "id"},
    {"aud": None, "client_id": "my-app-client"},
    {"aud": "someone-else", "client_id": "my-app-client", "token_use": "access"},
]


async def test_bad_external_tokens_are_refused(federated: Federated, idp: ExternalIssuer) -> None:
    container, client = federated
    for claims in BAD_CLAIMS:
        response = await me(client, idp.token(**claims))
        assert response.status_code == 401, (claims, response.text)
    assert await count_rows(container.db, User) == 0
    assert (await me(client, idp.token())).status_code == 200


async def test_an_expired_token_says_so(federated: Federated, idp: ExternalIssuer) -> None:
    _container, client = federated
    now = int(idp.clock.now().timestamp())
    response = await me(client, idp.token(iat=now - 700, exp=now - 100))
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


@pytest.mark.parametrize("audience", ["my-app-client", ["other", "my-app-client"]])
async def test_aud_naming_the_app_client_is_accepted(
    federated: Federated, idp: ExternalIssuer, audience: object
) -> None:
    _container, client = federated
    assert (await me(client, idp.token(aud=audience))).status_code == 200


async def test_cognito_access_tokens_are_accepted_by_client_id(
    federated: Federated, idp: ExternalIssuer
) -> None:
    _container, client = federated
    token = idp.token(aud=None, client_id=idp.audience, token_use="access")
    assert (await me(client, token)).status_code == 200


# -- forgeries --------------------------------------------------------------------------------


def public_pem(idp: ExternalIssuer) -> bytes:
    return idp.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


async def test_forged_external_tokens_are_refused(
    federated: Federated, idp: ExternalIssuer
) -> None:
    container, client = federated
    claims = idp.unverified_claims()
    for_kid = {"kid": idp.kid, "typ": "JWT"}
    impostor = ExternalIssuer(idp.issuer, clock=idp.clock)
    impostor.rotate(kid=idp.kid)
    tokens = {
        "alg none": forge({**for_kid, "alg": "none"}, claims, None),
        "alg None": forge({**for_kid, "alg": "None"}, claims, None),
        "HS256 with the public key": forge({**for_kid, "alg": "HS256"}, claims, public_pem(idp)),
        "HS256 with the JWK": forge(
            {**for_kid, "alg": "HS256"}, claims, json.dumps(idp.jwks()["keys"][0]).encode()
        ),
        "RS256 header on an HMAC": forge({**for_kid, "alg": "RS256"}, claims, public_pem(idp)),
        "unknown kid": idp.token(headers={"kid": "nope"}),
        "no kid": forge({"alg": "RS256"}, claims, None),
        "jku": idp.token(headers={"jku": "http://127.0.0.1:1/keys"}),
        "embedded jwk": idp.token(headers={"jwk": idp.jwks()["keys"][0]}),
        "another key, same kid": impostor.token(),
        "tampered payload": tamper(idp.token(), sub="someone-else"),
    }
    for name, token in tokens.items():
        response = await me(client, token)
        assert response.status_code == 401, name
    assert await count_rows(container.db, User) == 0
    assert (await me(client, idp.token())).status_code == 200


def tamper(token: str, **claims: Any) -> str:
    header, _payload, signature = token.split(".")
    original = jwt.decode(token, options={"verify_signature": False})
    payload = forge({}, {**original, **claims}, None).split(".")[1]
    return f"{header}.{payload}.{signature}"


async def test_an_hmac_key_in_the_jwks_is_never_used(
    federated: Federated, idp: ExternalIssuer
) -> None:
    _container, client = federated
    idp.mode = "hostile"
    assert (await me(client, idp.token())).status_code == 200
    claims = idp.unverified_claims()
    hmac_token = forge({"alg": "HS256", "kid": HMAC_KID}, claims, HMAC_SECRET)
    assert (await me(client, hmac_token)).status_code == 401


async def test_issuers_not_configured_are_not_trusted(
    client: httpx.AsyncClient, idp: ExternalIssuer
) -> None:
    response = await me(client, idp.token())
    assert response.status_code == 401
    assert idp.requests == 0


async def test_a_second_issuer_is_not_trusted_because_one_is(
    federated: Federated, idp: ExternalIssuer, clock: ShiftableClock
) -> None:
    _container, client = federated
    stranger = ExternalIssuer("https://idp.example.com/tenant-b", clock=clock)
    stranger.start()
    try:
        response = await me(client, stranger.token(aud=idp.audience))
    finally:
        stranger.stop()
    assert response.status_code == 401
    assert stranger.requests == 0 and idp.requests == 0


# -- verification cache -----------------------------------------------------------------------


async def test_an_external_token_is_verified_once_and_dies_at_its_expiry(
    federated: Federated,
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
        assert (await me(client, token)).status_code == 200
    assert calls == 1
    clock.advance(601)
    assert (await me(client, token)).status_code == 401


# -- key rotation and the refetch rate limit --------------------------------------------------


async def test_a_rotated_key_is_fetched_once(
    federated: Federated, idp: ExternalIssuer, clock: ShiftableClock
) -> None:
    _container, client = federated
    old = idp.kid
    assert (await me(client, idp.token())).status_code == 200
    assert idp.requests == 1

    clock.advance(REFRESH + 1)
    idp.rotate(keep_old=True)
    assert (await me(client, idp.token())).status_code == 200
    assert idp.requests == 2
    for token in (idp.token(), idp.token(signed_with=old)):
        assert (await me(client, token)).status_code == 200
    assert idp.requests == 2


async def test_a_key_dropped_from_the_jwks_is_refused_after_the_refetch(
    federated: Federated, idp: ExternalIssuer, clock: ShiftableClock
) -> None:
    _container, client = federated
    old = idp.kid
    assert (await me(client, idp.token())).status_code == 200

    clock.advance(REFRESH + 1)
    idp.rotate(keep_old=False)
    assert (await me(client, idp.token())).status_code == 200
    assert idp.requests == 2
    response = await me(client, idp.token(signed_with=old))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert idp.requests == 2  # refused from the refreshed keys, without another fetch


async def test_held_keys_are_refetched_after_their_maximum_age(
    federated: Federated, idp: ExternalIssuer, clock: ShiftableClock
) -> None:
    """A dropped key is trusted until the next fetch, which comes within the maximum age even
    when no token names an unknown kid."""
    _container, client = federated
    old = idp.kid
    assert (await me(client, idp.token())).status_code == 200
    idp.rotate(keep_old=False)
    assert (await me(client, idp.token(signed_with=old))).status_code == 200
    assert idp.requests == 1

    clock.advance(MAX_AGE + 1)
    assert (await me(client, idp.token(signed_with=old))).status_code == 401
    assert idp.requests == 2
    assert (await me(client, idp.token())).status_code == 200
    assert idp.requests == 2


async def test_unknown_kids_refetch_at_most_once_per_interval(
    federated: Federated, idp: ExternalIssuer, clock: ShiftableClock
) -> None:
    _container, client = federated
    assert (await me(client, idp.token())).status_code == 200
    assert idp.requests == 1

    def flood() -> list[str]:
        return [idp.token(headers={"kid": uuid.uuid4().hex}) for _ in range(50)]

    responses = await asyncio.gather(*(me(client, token) for token in flood()))
    assert {response.status_code for response in responses} == {401}
    assert idp.requests == 1  # the keys were fetched a moment ago

    for fetches in (2, 3):
        clock.advance(REFRESH + 1)
        responses = await asyncio.gather(*(me(client, token) for token in flood()))
        assert {response.status_code for response in responses} == {401}
        assert idp.requests == fetches
    assert (await me(client, idp.token())).status_code == 200
    assert idp.requests == 3


# -- a JWKS endpoint that misbehaves ----------------------------------------------------------

FAILING_MODES: list[JwksMode] = ["error", "hangup", "junk", "array", "deep", "huge", "slow"]


SHORT_DEADLINE = 1.0


@contextmanager
def short_deadline() -> Iterator[float]:
    """Below the 3 s default while the JWKS misbehaves, so the slow one is given up on quickly;
    healthy fetches keep the default, since a busy machine can take over a second for one."""
    default = jwks.JWKS_FETCH_DEADLINE
    jwks.JWKS_FETCH_DEADLINE = SHORT_DEADLINE
    try:
        yield SHORT_DEADLINE
    finally:
        jwks.JWKS_FETCH_DEADLINE = default


@pytest.mark.parametrize("mode", FAILING_MODES)
async def test_a_failing_jwks_refuses_new_keys_and_keeps_the_held_ones(
    federated: Federated,
    idp: ExternalIssuer,
    clock: ShiftableClock,
    mode: JwksMode,
) -> None:
    _container, client = federated
    assert (await me(client, idp.token())).status_code == 200
    idp.mode = mode
    clock.advance(REFRESH + 1)
    with short_deadline() as deadline:
        started = time.monotonic()
        unknown = await me(client, idp.token(headers={"kid": "rotated-meanwhile"}))
        assert time.monotonic() - started < deadline + 2
        assert unknown.status_code == 401
        assert unknown.json()["code"] == "invalid_token"
        assert idp.requests == 2

        clock.advance(MAX_AGE + 1)  # a refresh of the held keys fails too: they stay
        assert (await me(client, idp.token())).status_code == 200
        assert idp.requests == 3


@pytest.mark.parametrize("mode", FAILING_MODES)
async def test_a_jwks_failing_from_the_start_refuses_then_recovers(
    federated: Federated,
    idp: ExternalIssuer,
    clock: ShiftableClock,
    mode: JwksMode,
) -> None:
    _container, client = federated
    idp.mode = mode
    with short_deadline() as deadline:
        started = time.monotonic()
        response = await me(client, idp.token())
        assert time.monotonic() - started < deadline + 2
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_token"
    idp.mode = "ok"
    assert (await me(client, idp.token())).status_code == 401  # no refetch within the interval
    clock.advance(REFRESH + 1)
    assert (await me(client, idp.token())).status_code == 200
    assert idp.requests == 2


async def test_an_unreachable_jwks_refuses_without_hanging(
    federated: Federated, idp: ExternalIssuer
) -> None:
    _container, client = federated
    idp.stop()
    response = await me(client, idp.token())
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
