"""A stand-in external OIDC issuer (Cognito-like: RS256, `kid`, `aud` = app client id): RSA keys
that rotate, and their JWKS served over real HTTP by an endpoint that can be told to misbehave."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tenantry.clock import Clock
from tests.support.net import free_port

# ok: the JWKS; error: 503; hangup: the connection closes without an answer; junk: not JSON;
# array: JSON that is no JWKS; deep: JSON nested past the parser's recursion limit; hostile:
# the JWKS plus entries that must be skipped (an HMAC key among them); huge: the JWKS padded to
# 2 MiB; slow: the JWKS dripped a byte at a time, far slower than any deadline.
JwksMode = Literal["ok", "error", "hangup", "junk", "array", "deep", "hostile", "huge", "slow"]
HMAC_KID = "hmac-key"
HMAC_SECRET = b"a-shared-secret-that-is-long-enough"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A token assembled by hand: HS256 over `secret`, or `alg: none` without a signature.
    PyJWT rightly refuses to make either with an RSA public key as the secret."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    if secret is None:
        return f"{signing_input}."
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


class ExternalIssuer:
    def __init__(
        self, issuer: str = "https://idp.example.com/tenant-a", *, clock: Clock | None = None
    ) -> None:
        self.issuer = issuer
        self.audience = "my-app-client"
        self.clock = clock or Clock()
        self.keys: dict[str, rsa.RSAPrivateKey] = {}  # every key it ever had, by kid
        self.published: list[str] = []  # the kids its JWKS serves
        self.kid = ""  # the one it signs with
        self.rotate()
        self.mode: JwksMode = "ok"
        self.requests = 0
        self._port = free_port()
        self._server: ThreadingHTTPServer | None = None
        self._stopped = threading.Event()

    @property
    def jwks_uri(self) -> str:
        return f"http://127.0.0.1:{self._port}/.well-known/jwks.json"

    @property
    def key(self) -> rsa.RSAPrivateKey:
        return self.keys[self.kid]

    def rotate(self, *, keep_old: bool = True, kid: str | None = None) -> str:
        """Sign with a new key from now on, publishing it beside the old ones or alone."""
        kid = kid or f"idp-key-{uuid.uuid4().hex[:8]}"
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.published = [*self.published, kid] if keep_old else [kid]
        self.kid = kid
        return kid

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                {**json.loads(RSAAlgorithm.to_jwk(self.keys[kid].public_key())), "kid": kid}
                | {"alg": "RS256", "use": "sig"}
                for kid in self.published
            ]
        }

    def body(self) -> bytes:
        jwks = self.jwks()
        if self.mode == "junk":
            return b"<html>503 Service Temporarily Unavailable</html>"
        if self.mode == "array":
            return json.dumps(jwks["keys"]).encode()
        if self.mode == "deep":
            return b"[" * 200_000
        if self.mode == "hostile":
            octet = {"kty": "oct", "kid": HMAC_KID, "k": b64url(HMAC_SECRET), "alg": "HS256"}
            weird = [7, "key", {"kty": 1, "alg": [1]}, {"kty": "RSA", "alg": "none", "kid": "n"}]
            jwks["keys"] += [octet, *weird]
        if self.mode == "huge":
            jwks["padding"] = "x" * (2 * 1024 * 1024)
        return json.dumps(jwks).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests += 1
                if issuer.mode == "hangup":
                    self.close_connection = True
                    return
                if issuer.mode == "error":
                    self.send_error(503)
                    return
                body = issuer.body()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                if issuer.mode == "slow":
                    self._drip(body)
                else:
                    self.wfile.write(body)

            def _drip(self, body: bytes) -> None:
                try:
                    for offset in range(len(body)):
                        if issuer._stopped.wait(0.05):
                            return
                        self.wfile.write(body[offset : offset + 1])
                        self.wfile.flush()
                except OSError:
                    return  # the client gave up, as it should

            def log_message(self, *_args: Any) -> None:
                return

        return Handler

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop serving: the JWKS URI then refuses connections. Safe to call twice."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopped.set()
        server.shutdown()
        server.server_close()

    def token(
        self,
        *,
        signed_with: str | None = None,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A token as this issuer would sign it, unique per call; `None` drops a claim."""
        now = int(self.clock.now().timestamp())
        payload = {
            "iss": self.issuer,
            "sub": "ext-user-1",
            "aud": self.audience,
            "iat": now,
            "exp": now + 600,
            "jti": uuid.uuid4().hex,
            "email": "fed@example.com",
            "email_verified": True,
            **claims,
        }
        payload = {key: value for key, value in payload.items() if value is not None}
        kid = signed_with or self.kid
        return jwt.encode(
            payload, self.keys[kid], algorithm="RS256", headers={"kid": kid, **(headers or {})}
        )

    def unverified_claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(self.token(), options={"verify_signature": False})
        return claims
