"""Request ids, access logs, Prometheus metrics and the request's origin for the audit log, as
plain ASGI middleware (cheap on the hot path). Being outermost, it also puts the security
headers on every response, whoever answered it."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Sequence

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenantry.domain.audit import RequestOrigin, bind_origin, unbind_origin
from tenantry.settings import IPNetwork
from tenantry.transports.rest.client_ip import client_ip
from tenantry.transports.rest.security_headers import SecurityHeaders

log = structlog.get_logger("tenantry.http")
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

REQUESTS = Counter("tenantry_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "tenantry_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class _Series:
    """The labelled children of `REQUESTS` and `LATENCY`, looked up once per label set:
    `labels()` stringifies, validates and takes a lock on every call, twice per request
    (docs/benchmarks.md, "Measured in code"). Holds as many entries as the metrics
    themselves hold series."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, str, int], Counter] = {}
        self._histograms: dict[tuple[str, str], Histogram] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        counter = self._counters.get((method, route, status))
        if counter is None:
            counter = self._counters[method, route, status] = REQUESTS.labels(
                method, route, str(status)
            )
        histogram = self._histograms.get((method, route))
        if histogram is None:
            histogram = self._histograms[method, route] = LATENCY.labels(method, route)
        counter.inc()
        histogram.observe(seconds)


class Observability:
    def __init__(
        self,
        app: ASGIApp,
        *,
        security_headers: SecurityHeaders,
        trusted_proxies: Sequence[IPNetwork] = (),
    ) -> None:
        """`trusted_proxies`: whose `X-Forwarded-For` names the client in audit entries."""
        self.app = app
        self.security_headers = security_headers
        self.trusted_proxies = trusted_proxies
        self.series = _Series()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                self.security_headers.add_to(headers, scope)
                message["headers"] = headers
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        origin = bind_origin(_OriginOf(scope, request_id, self.trusted_proxies))
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self.series.observe(scope["method"], route, status, elapsed)
            emit = log.warning if status >= 500 else log.debug
            emit(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")
            unbind_origin(origin)


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if REQUEST_ID.fullmatch(candidate):
                return candidate
    # The same 32 hex digits as uuid4().hex without building a UUID.
    return secrets.token_hex(16)


class _OriginOf:
    """The request's origin, worked out on first use (most requests audit nothing)."""

    __slots__ = ("origin", "request_id", "scope", "trusted")

    def __init__(self, scope: Scope, request_id: str, trusted: Sequence[IPNetwork]) -> None:
        self.scope, self.request_id, self.trusted = scope, request_id, trusted
        self.origin: RequestOrigin | None = None

    def __call__(self) -> RequestOrigin:
        if self.origin is None:
            forwarded: list[str] = []
            user_agent = None
            for name, value in self.scope["headers"]:
                if name == b"x-forwarded-for":
                    forwarded.append(value.decode("latin-1"))
                elif name == b"user-agent" and user_agent is None:
                    user_agent = value.decode("latin-1")
            peer = self.scope.get("client")
            ip = client_ip(peer[0] if peer else None, forwarded, self.trusted)
            self.origin = RequestOrigin(ip=ip, user_agent=user_agent, request_id=self.request_id)
        return self.origin
