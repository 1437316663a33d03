"""Limits on every request, as plain ASGI middleware (cheap on the hot path): the size of its
body and the time the whole request may take, body upload included, so that neither a large
nor a slow client holds a worker. Routes may take less (`bodies.read_limited`); a route whose
work rightly outlasts the deadline lifts it once its body is in (`lift_deadline`).

Past the deadline the answer is 408 while the body is still arriving (RFC 9110 §15.5.9: the
request did not arrive in time; the client's doing, and the connection is closed) and 503 with
Retry-After once it is in (the server was too slow: retryable, as load balancers and clients
treat 503). Not 504: that reports an upstream's timeout, and Tenantry is the origin."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenantry.transports.rest.problems import problem

LIMITS = "tenantry.limits"  # the scope key of the request's `_Limits`
RETRY_AFTER_SECONDS = "5"


class RequestLimits:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, timeout: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout = timeout
        # Deadlines are checked by one sweeper task while requests are in flight, rather than
        # a timer armed and cancelled per request (docs/benchmarks.md, "Measured in code").
        self._open: dict[asyncio.Task[Any], _Limits] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._sweep_every = min(1.0, timeout / 4)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, chunked = _body_framing(scope)
        if declared > self.max_body_bytes:  # refused before anything reads it
            await _too_large(self.max_body_bytes)(scope, receive, send)
            return
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        body_expected = declared > 0 or chunked
        limits = _Limits(
            receive, send, task, self.max_body_bytes, body_expected, loop.time() + self.timeout
        )
        scope[LIMITS] = limits
        self._open[task] = limits
        if self._sweeper is None:
            self._sweeper = loop.create_task(self._sweep(), name="request-deadlines")
        try:
            # A request without a body has nothing to count: its own `receive` will do.
            await self.app(scope, limits.receive if body_expected else receive, limits.send)
        except asyncio.CancelledError:
            if not limits.expired or task.uncancel() > 0:
                raise  # cancelled by someone else (the server stopping): let it be
            await _timed_out(self.timeout, body_in=limits.body_in)(scope, receive, send)
        finally:
            self._open.pop(task, None)

    async def _sweep(self) -> None:
        """Cancel the requests past their deadline, for as long as any is in flight."""
        loop = asyncio.get_running_loop()
        while self._open:
            await asyncio.sleep(self._sweep_every)
            now = loop.time()
            for limits in list(self._open.values()):
                if limits.armed and limits.deadline <= now:
                    limits.expire()
        self._sweeper = None


class _Limits:
    """One request's body count and deadline, seen by the app through `receive` and `send`."""

    __slots__ = (
        "_receive",
        "_send",
        "armed",
        "body_in",
        "deadline",
        "expired",
        "lifted",
        "max_body_bytes",
        "size",
        "task",
    )

    def __init__(
        self,
        receive: Receive,
        send: Send,
        task: asyncio.Task[Any],
        max_body_bytes: int,
        body_expected: bool,
        deadline: float,
    ) -> None:
        self._receive, self._send, self.task = receive, send, task
        self.max_body_bytes = max_body_bytes
        self.size = 0
        self.body_in = not body_expected
        self.deadline = deadline  # loop time
        self.armed = True
        self.lifted = self.expired = False

    def expire(self) -> None:
        self.armed = False
        self.expired = True
        self.task.cancel()

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.max_body_bytes:
                # raised into the route reading the body: it stops there, before acting on it
                raise HTTPException(413, _too_large_detail(self.max_body_bytes))
            if not message.get("more_body", False):
                self.body_in = True
                if self.lifted:
                    self.armed = False
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.armed = False  # answering: too late to answer otherwise
        await self._send(message)

    def lift(self) -> None:
        self.lifted = True
        if self.body_in:
            self.armed = False


async def lift_deadline(request: Request) -> None:
    """A route dependency: its handler may outlast the request deadline (moving a tenant's
    data between the pool and a silo takes as long as the data); its body upload may not."""
    limits = request.scope.get(LIMITS)
    if isinstance(limits, _Limits):
        limits.lift()


def _body_framing(scope: Scope) -> tuple[int, bool]:
    """The declared Content-Length (0 if none) and whether the body is chunked."""
    declared, chunked = 0, False
    for name, value in scope["headers"]:
        if name == b"content-length":
            declared = int(value) if value.isdigit() else 0
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked


def _too_large_detail(limit: int) -> str:
    return f"A request body is at most {limit} bytes."


def _too_large(limit: int) -> ASGIApp:
    # The body is left unread: close the connection rather than read it to reuse it.
    return problem(
        413, "payload_too_large", _too_large_detail(limit), headers={"Connection": "close"}
    )


def _timed_out(timeout: float, *, body_in: bool) -> ASGIApp:
    if not body_in:
        return problem(
            408,
            "request_timeout",
            f"The request did not arrive within {timeout:g} seconds.",
            headers={"Connection": "close"},
        )
    return problem(
        503,
        "request_timeout",
        f"The request took longer than {timeout:g} seconds; try again.",
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )
