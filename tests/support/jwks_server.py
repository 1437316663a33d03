"""A stand-in external OIDC issuer: an RSA key and its JWKS served over real HTTP."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.support.net import free_port


class ExternalIssuer:
    def __init__(self, issuer: str = "https://idp.example.com/tenant-a") -> None:
        self.issuer = issuer
        self.audience = "my-app-client"
        self.kid = "idp-key-1"
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.requests = 0
        self._port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), self._handler())

    @property
    def jwks_uri(self) -> str:
        return f"http://127.0.0.1:{self._port}/.well-known/jwks.json"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests += 1
                jwk = json.loads(RSAAlgorithm.to_jwk(issuer.key.public_key()))
                body = json.dumps({"keys": [{**jwk, "kid": issuer.kid, "alg": "RS256"}]})
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *_args: Any) -> None:
                return

        return Handler

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def token(self, *, headers: dict[str, Any] | None = None, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "sub": "ext-user-1",
            "aud": self.audience,
            "iat": now,
            "exp": now + 600,
            "email": "fed@example.com",
            "email_verified": True,
            **claims,
        }
        payload = {key: value for key, value in payload.items() if value is not None}
        return jwt.encode(
            payload, self.key, algorithm="RS256", headers={"kid": self.kid, **(headers or {})}
        )
