"""Hand-built JWTs for forgery tests. Tokens are assembled byte by byte rather than with PyJWT's
encoder, so a test controls every header field (including `alg: none` and HMAC with an RSA
public key, which PyJWT refuses to produce) and proves what the server rejects."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.algorithms import RSAAlgorithm

from tests.support.api import bearer

HMAC_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def segment(value: Mapping[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def split(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A token's header and claims, unverified."""
    header_segment, payload_segment, _signature = token.split(".")
    header: dict[str, Any] = json.loads(b64url_decode(header_segment))
    claims: dict[str, Any] = json.loads(b64url_decode(payload_segment))
    return header, claims


def assemble(header: Mapping[str, Any], claims: Mapping[str, Any], signature: bytes) -> str:
    return f"{segment(header)}.{segment(claims)}.{b64url(signature)}"


def signing_input(header: Mapping[str, Any], claims: Mapping[str, Any]) -> bytes:
    return f"{segment(header)}.{segment(claims)}".encode()


def sign_rs256(header: Mapping[str, Any], claims: Mapping[str, Any], key: rsa.RSAPrivateKey) -> str:
    """RS256-sign exactly `header` and `claims` (the header's `alg` is left as given)."""
    signature = key.sign(signing_input(header, claims), padding.PKCS1v15(), hashes.SHA256())
    return assemble(header, claims, signature)


def sign_hmac(header: Mapping[str, Any], claims: Mapping[str, Any], secret: bytes) -> str:
    """HMAC-sign with the digest named by the header's `alg` (HS256/HS384/HS512)."""
    digest = HMAC_DIGESTS[str(header["alg"])]
    signature = hmac.new(secret, signing_input(header, claims), digest).digest()
    return assemble(header, claims, signature)


def public_key_from_jwk(jwk: Mapping[str, Any]) -> rsa.RSAPublicKey:
    key = RSAAlgorithm.from_jwk(json.dumps(dict(jwk)))
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def public_jwk(key: rsa.RSAPublicKey, **extra: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key))
    jwk.update(extra)
    return jwk


async def fetch_jwks(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200, response.text
    keys: list[dict[str, Any]] = response.json()["keys"]
    return keys


async def me_status(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """Call a Bearer-only route with `token`."""
    return await client.get("/v1/me", headers=bearer(token))


def assert_unauthenticated(response: httpx.Response, code: str | None = None) -> None:
    """401 as RFC 9457 problem+json with a machine-readable code (and a Bearer challenge)."""
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers.get("www-authenticate", "").startswith("Bearer")
    body = response.json()
    assert body["status"] == 401
    assert isinstance(body["code"], str) and body["code"]
    if code is not None:
        assert body["code"] == code, body
    assert "access_token" not in body
