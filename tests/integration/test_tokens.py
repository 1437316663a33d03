"""Access token forgery and validation, discovery and key rotation (SPEC §4; security
catalogue 13-17)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tenantry.bootstrap import Container
from tests.support.api import (
    Account,
    bearer,
    create_organization,
    mailed_invitation_token,
    register,
)
from tests.support.clock import ShiftableClock
from tests.support.mailbox import Mailbox
from tests.support.tokens import (
    assemble,
    assert_unauthenticated,
    b64url,
    fetch_jwks,
    me_status,
    public_jwk,
    public_key_from_jwk,
    sign_hmac,
    sign_rs256,
    split,
)

pytestmark = pytest.mark.integration

ISSUER = "http://testserver"
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


@dataclass(frozen=True)
class Material:
    """A genuine access token taken apart, plus the keys to rebuild variants of it."""

    token: str
    header: dict[str, Any]
    claims: dict[str, Any]
    our_key: rsa.RSAPrivateKey
    published_jwk: dict[str, Any]

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return public_key_from_jwk(self.published_jwk)

    def header_with(self, **changes: Any) -> dict[str, Any]:
        return {**self.header, **changes}

    def claims_with(self, **changes: Any) -> dict[str, Any]:
        return {**self.claims, **changes}

    def signed(
        self,
        *,
        header: dict[str, Any] | None = None,
        claims: dict[str, Any] | None = None,
    ) -> str:
        """Signed with our real private key: only the changed field can make it invalid."""
        return sign_rs256(
            self.header if header is None else header,
            self.claims if claims is None else claims,
            self.our_key,
        )

    def without_header(self, name: str) -> dict[str, Any]:
        return {k: v for k, v in self.header.items() if k != name}

    def without_claim(self, name: str) -> dict[str, Any]:
        return {k: v for k, v in self.claims.items() if k != name}

    def hmac_with(self, secret: bytes, alg: str = "HS256") -> str:
        return sign_hmac(self.header_with(alg=alg), self.claims, secret)


@pytest.fixture
async def account(client: httpx.AsyncClient, mailbox: Mailbox) -> Account:
    return await register(client, mailbox, "tokens@example.com")


@pytest.fixture
async def material(client: httpx.AsyncClient, container: Container, account: Account) -> Material:
    header, claims = split(account.access_token)
    published = {key["kid"]: key for key in await fetch_jwks(client)}
    return Material(
        token=account.access_token,
        header=header,
        claims=claims,
        our_key=container.keys.current().private_key,
        published_jwk=published[header["kid"]],
    )


def _foreign_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPublicKey, fmt: serialization.PublicFormat) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, fmt)


def _der(key: rsa.RSAPublicKey, fmt: serialization.PublicFormat) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, fmt)


SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
PKCS1 = serialization.PublicFormat.PKCS1

Forgery = Callable[[Material], str]

FORGERIES: dict[str, Forgery] = {
    # 13: no signature at all
    "alg-none": lambda m: assemble(m.header_with(alg="none"), m.claims, b""),
    "alg-None": lambda m: assemble(m.header_with(alg="None"), m.claims, b""),
    "alg-NONE": lambda m: assemble(m.header_with(alg="NONE"), m.claims, b""),
    "alg-none-keeping-signature": lambda m: (
        assemble(m.header_with(alg="none"), m.claims, b"") + m.token.rsplit(".", 1)[1]
    ),
    "alg-missing": lambda m: m.signed(header=m.without_header("alg")),
    "stripped-signature": lambda m: m.token.rsplit(".", 1)[0] + ".",
    "stripped-signature-and-dot": lambda m: m.token.rsplit(".", 1)[0],
    "garbage-signature": lambda m: m.token.rsplit(".", 1)[0] + "." + b64url(b"\0" * 256),
    # 14: algorithm confusion, HMAC keyed with our public key in every usual encoding
    "hs256-spki-pem": lambda m: m.hmac_with(_pem(m.public_key, SPKI)),
    "hs256-spki-pem-no-trailing-newline": lambda m: m.hmac_with(
        _pem(m.public_key, SPKI).rstrip(b"\n")
    ),
    "hs256-pkcs1-pem": lambda m: m.hmac_with(_pem(m.public_key, PKCS1)),
    "hs256-spki-der": lambda m: m.hmac_with(_der(m.public_key, SPKI)),
    "hs256-pkcs1-der": lambda m: m.hmac_with(_der(m.public_key, PKCS1)),
    "hs256-jwk-json-as-published": lambda m: m.hmac_with(json.dumps(m.published_jwk).encode()),
    "hs256-jwk-json-compact": lambda m: m.hmac_with(
        json.dumps(m.published_jwk, separators=(",", ":")).encode()
    ),
    "hs256-jwk-json-bare": lambda m: m.hmac_with(json.dumps(public_jwk(m.public_key)).encode()),
    "hs256-empty-key": lambda m: m.hmac_with(b""),
    "hs512-spki-pem": lambda m: m.hmac_with(_pem(m.public_key, SPKI), alg="HS512"),
    # a foreign RSA key claiming to be ours
    "foreign-key-with-our-kid": lambda m: sign_rs256(m.header, m.claims, _foreign_key()),
    # tampered payloads keeping the original signature
    "tampered-sub": lambda m: _keep_signature(m, m.claims_with(sub=str(uuid.uuid4()))),
    "tampered-tenant": lambda m: _keep_signature(m, m.claims_with(tenant=str(uuid.uuid4()))),
    "tampered-exp": lambda m: _keep_signature(m, m.claims_with(exp=m.claims["exp"] + 86_400)),
    "tampered-header": lambda m: _keep_signature(m, m.claims, header=m.header_with(extra="x")),
    # 15: key ids that are unknown or try to reach a file or a query
    "kid-unknown": lambda m: m.signed(header=m.header_with(kid="no-such-key-id")),
    "kid-path": lambda m: m.signed(header=m.header_with(kid="../../etc/passwd")),
    "kid-absolute-path": lambda m: m.signed(header=m.header_with(kid="/dev/null")),
    "kid-sql": lambda m: m.signed(header=m.header_with(kid="' OR 1=1 --")),
    "kid-sql-union": lambda m: m.signed(
        header=m.header_with(kid="x' UNION SELECT public_pem FROM signing_keys --")
    ),
    "kid-empty": lambda m: m.signed(header=m.header_with(kid="")),
    "kid-number": lambda m: m.signed(header=m.header_with(kid=1)),
    "kid-missing": lambda m: m.signed(header=m.without_header("kid")),
    # 15: key-bearing headers on an otherwise valid token signed with our key
    "jku-header": lambda m: m.signed(
        header=m.header_with(jku="https://attacker.example/jwks.json")
    ),
    "x5u-header": lambda m: m.signed(header=m.header_with(x5u="https://attacker.example/c.pem")),
    "jwk-header": lambda m: m.signed(header=m.header_with(jwk=m.published_jwk)),
    "x5c-header": lambda m: m.signed(header=m.header_with(x5c=[b64url(b"not a certificate")])),
    "crit-header": lambda m: m.signed(header=m.header_with(crit=["exp"])),
    # 16: audience
    "aud-wrong": lambda m: m.signed(claims=m.claims_with(aud="another-service")),
    "aud-missing": lambda m: m.signed(claims=m.without_claim("aud")),
    "aud-list-without-ours": lambda m: m.signed(claims=m.claims_with(aud=["a", "b"])),
    "aud-empty-list": lambda m: m.signed(claims=m.claims_with(aud=[])),
    "aud-case-variant": lambda m: m.signed(claims=m.claims_with(aud="Tenantry")),
    # 16: issuer
    "iss-wrong": lambda m: m.signed(claims=m.claims_with(iss="https://attacker.example")),
    "iss-missing": lambda m: m.signed(claims=m.without_claim("iss")),
    "iss-trailing-slash": lambda m: m.signed(claims=m.claims_with(iss=f"{ISSUER}/")),
    # 16: time claims
    "nbf-future": lambda m: m.signed(claims=m.claims_with(nbf=m.claims["iat"] + 3600)),
    "exp-past": lambda m: m.signed(claims=m.claims_with(exp=m.claims["iat"] - 1)),
    "exp-missing": lambda m: m.signed(claims=m.without_claim("exp")),
    "exp-string": lambda m: m.signed(claims=m.claims_with(exp="never")),
    # typ
    "typ-jwt": lambda m: m.signed(header=m.header_with(typ="JWT")),
    "typ-missing": lambda m: m.signed(header=m.without_header("typ")),
    "typ-refresh": lambda m: m.signed(header=m.header_with(typ="rt+jwt")),
    # claims we rely on
    "sub-missing": lambda m: m.signed(claims=m.without_claim("sub")),
    "sub-not-a-uuid": lambda m: m.signed(claims=m.claims_with(sub="admin")),
}

EXPECTED_CODE = {"exp-past": "token_expired"}


def _keep_signature(
    m: Material, claims: dict[str, Any], *, header: dict[str, Any] | None = None
) -> str:
    original_signature = m.token.rsplit(".", 1)[1]
    unsigned = assemble(m.header if header is None else header, claims, b"")
    return unsigned + original_signature


async def test_a_genuine_token_rebuilt_by_the_forging_helpers_is_accepted(
    client: httpx.AsyncClient, material: Material
) -> None:
    """Control for every forgery below: re-signing the genuine header and claims with our key
    gives a token the API accepts, so each 401 is caused by the one thing a case changes."""
    rebuilt = material.signed(header=dict(material.header), claims=dict(material.claims))
    response = await me_status(client, rebuilt)
    assert response.status_code == 200, response.text
    also_with_list_aud = material.signed(
        claims=material.claims_with(aud=["another-service", "tenantry"])
    )
    assert (await me_status(client, also_with_list_aud)).status_code == 200


@pytest.mark.catalogue(13, 14, 15, 16)
async def test_forged_or_invalid_access_tokens_are_rejected(
    client: httpx.AsyncClient, material: Material
) -> None:
    """Every case in FORGERIES -> 401 problem+json. All cases share one account (setting one up
    per case would dominate the run time); the failures are reported together by case name."""
    wrong: dict[str, str] = {}
    for case, forge in FORGERIES.items():
        forged = forge(material)
        assert forged != material.token, case
        response = await me_status(client, forged)
        try:
            assert_unauthenticated(response, EXPECTED_CODE.get(case, "invalid_token"))
        except AssertionError:
            wrong[case] = f"{response.status_code} {response.text}"
    assert wrong == {}
    # The genuine token still works: nothing above revoked or poisoned it.
    assert (await me_status(client, material.token)).status_code == 200


@pytest.mark.catalogue(13, 14, 15)
async def test_forged_tokens_are_rejected_on_tenant_scoped_routes_too(
    client: httpx.AsyncClient, material: Material, account: Account
) -> None:
    for case in ("alg-none", "hs256-spki-pem", "foreign-key-with-our-kid", "jku-header"):
        forged = FORGERIES[case](material)
        headers = {**bearer(forged), "X-Tenant-ID": account.tenant_id}
        response = await client.get("/v1/projects", headers=headers)
        assert_unauthenticated(response, "invalid_token")


class _Listener:
    """A loopback TCP server that only counts who connects to it."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def _handle(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"


@pytest.fixture
async def listener() -> AsyncIterator[_Listener]:
    found = _Listener()
    yield found
    if found.server is not None:
        found.server.close()
        await found.server.wait_closed()


@pytest.mark.catalogue(15)
async def test_key_bearing_headers_pointing_at_an_attacker_key_are_never_fetched(
    client: httpx.AsyncClient, material: Material, listener: _Listener
) -> None:
    base = await listener.start()
    attacker = _foreign_key()
    attacker_jwk = public_jwk(attacker.public_key(), kid="attacker", use="sig", alg="RS256")
    headers: list[dict[str, Any]] = [
        material.header_with(kid="attacker", jku=f"{base}/jwks.json"),
        material.header_with(jku=f"{base}/jwks.json"),
        material.header_with(kid="attacker", x5u=f"{base}/cert.pem"),
        material.header_with(x5u=f"{base}/cert.pem"),
        material.header_with(kid="attacker", jwk=attacker_jwk),
        material.header_with(jwk=attacker_jwk),
        {k: v for k, v in material.header.items() if k != "kid"} | {"jwk": attacker_jwk},
    ]
    for header in headers:
        response = await me_status(client, sign_rs256(header, material.claims, attacker))
        assert_unauthenticated(response, "invalid_token")
    await asyncio.sleep(0.2)
    assert listener.connections == 0


@pytest.mark.catalogue(16)
async def test_an_expired_token_is_rejected_even_after_it_was_accepted(
    client: httpx.AsyncClient, account: Account, clock: ShiftableClock
) -> None:
    assert (await me_status(client, account.access_token)).status_code == 200
    clock.advance(890)
    assert (await me_status(client, account.access_token)).status_code == 200
    clock.advance(11)
    assert_unauthenticated(await me_status(client, account.access_token), "token_expired")


@pytest.mark.catalogue(16)
async def test_a_future_nbf_is_rejected_until_it_has_passed(
    client: httpx.AsyncClient, material: Material, clock: ShiftableClock
) -> None:
    early = material.signed(claims=material.claims_with(nbf=material.claims["iat"] + 60))
    assert_unauthenticated(await me_status(client, early), "invalid_token")
    clock.advance(61)
    assert (await me_status(client, early)).status_code == 200


@pytest.mark.catalogue(17)
async def test_refresh_tokens_codes_invitations_and_random_strings_are_not_access_tokens(
    client: httpx.AsyncClient, mailbox: Mailbox, account: Account
) -> None:
    forgot = await client.post("/v1/auth/password/forgot", json={"email": account.email})
    assert forgot.status_code == 202
    code = await mailbox.code_for(account.email, count=2)
    invitation = await _invitation_token_for(client, mailbox, account)
    not_access_tokens = [
        account.refresh_token,
        code,
        invitation,
        "0" * 6,
        "not-a-token",
        "a.b.c",
        "eyJhbGciOiJSUzI1NiJ9.e30.",
        b64url(b"\x00" * 48),
        account.access_token + "x",
    ]
    for token in not_access_tokens:
        assert_unauthenticated(await me_status(client, token), "invalid_token")
    # Each still works where it belongs: nothing above spent it.
    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": account.refresh_token})
    assert refreshed.status_code == 200
    preview = await client.get("/v1/invitations/preview", params={"token": invitation})
    assert preview.status_code == 200, preview.text


async def _invitation_token_for(
    client: httpx.AsyncClient, mailbox: Mailbox, invitee: Account
) -> str:
    """A live invitation token, mailed to `invitee` by the owner of another organization."""
    owner = await register(client, mailbox, "inviter@example.com")
    tenant_id = await create_organization(client, owner, "Inviters")
    created = await client.post(
        "/v1/invitations",
        headers=owner.headers(tenant_id),
        json={"email": invitee.email, "role": "viewer"},
    )
    assert created.status_code == 201, created.text
    return await mailed_invitation_token(mailbox, invitee.email)


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "Bearer a b"],
)
async def test_missing_or_malformed_authorization_header(
    client: httpx.AsyncClient, authorization: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    assert_unauthenticated(await client.get("/v1/me", headers=headers))


async def test_openid_configuration(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    config = response.json()
    assert config["issuer"] == ISSUER
    assert config["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    jwks = await client.get(config["jwks_uri"])
    assert jwks.status_code == 200


async def test_jwks_publishes_only_public_signing_keys(
    client: httpx.AsyncClient, account: Account
) -> None:
    keys = await fetch_jwks(client)
    assert keys
    for key in keys:
        assert key["kty"] == "RSA"
        assert key["alg"] == "RS256"
        assert key["use"] == "sig"
        assert isinstance(key["kid"], str) and key["kid"]
        assert {"n", "e"} <= key.keys()
        assert not PRIVATE_JWK_MEMBERS & key.keys(), key
        assert public_key_from_jwk(key).key_size >= 2048
    header, _ = split(account.access_token)
    assert header["kid"] in {key["kid"] for key in keys}


async def _login(client: httpx.AsyncClient, account: Account) -> str:
    response = await client.post(
        "/v1/auth/login", json={"email": account.email, "password": account.password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def test_key_rotation_keeps_old_tokens_valid_and_publishes_both_keys(
    client: httpx.AsyncClient, container: Container, account: Account, clock: ShiftableClock
) -> None:
    old_kid = split(account.access_token)[0]["kid"]
    unused_old_token = await _login(client, account)  # never verified before the rotation

    new_kid = await container.keys.rotate()

    assert new_kid != old_kid
    new_token = await _login(client, account)
    assert split(new_token)[0]["kid"] == new_kid
    assert (await me_status(client, new_token)).status_code == 200
    assert (await me_status(client, unused_old_token)).status_code == 200
    kids = [key["kid"] for key in await fetch_jwks(client)]
    assert set(kids) == {old_kid, new_kid}
    assert kids[0] == new_kid

    # Once every token the old key signed has expired, the key leaves the JWKS.
    clock.advance(container.tokens.ttl + 5 * 60 + 1)
    await container.keys.reload()
    assert [key["kid"] for key in await fetch_jwks(client)] == [new_kid]
    assert (await me_status(client, await _login(client, account))).status_code == 200


async def test_a_token_signed_by_a_rotated_out_key_is_rejected(
    client: httpx.AsyncClient, container: Container, material: Material
) -> None:
    """After rotation the old key verifies old tokens but a token naming the new kid and signed
    with the old key is a forgery."""
    new_kid = await container.keys.rotate()
    forged = material.signed(header=material.header_with(kid=new_kid))
    assert_unauthenticated(await me_status(client, forged), "invalid_token")
