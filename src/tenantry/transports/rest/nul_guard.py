"""Refuse the NUL character (U+0000) anywhere in a request's text, as plain ASGI middleware:
PostgreSQL cannot store it in text or jsonb and failed the statement (a 500 on every route
that stores a string), while SQLite stored it. One place for every transport (JSON bodies of
the API and GraphQL, the web UI's forms, query strings and paths), so that no field can be
forgotten, answering 422 `validation_error` on both databases alike."""

from __future__ import annotations

from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenantry.transports.rest.problems import problem

DETAIL = "Text may not contain the NUL character (U+0000)."
_JSON_ESCAPE = b"\\u0000"
_BACKSLASH = 0x5C
# Bytes of the previous body chunk searched again with the next, so that a NUL written across
# two chunks is found too (with the backslashes before it, which decide whether it is one).
_CARRY = 64


class RejectNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"%00" in scope["query_string"] or "\x00" in scope["path"]:
            await problem(422, "validation_error", DETAIL)(scope, receive, send)
            return
        finds_nul = _finder(scope)
        if finds_nul is None:
            await self.app(scope, receive, send)
            return
        await self.app(scope, _Scanned(receive, finds_nul).receive, send)


def _finder(scope: Scope) -> Callable[[bytes], bool] | None:
    """How NUL is written in this request's body, by its media type; None for no body text."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            if b"json" in value:
                return _json_has_nul
            if b"x-www-form-urlencoded" in value:
                return _form_has_nul
            return None
    return None


def _json_has_nul(data: bytes) -> bool:
    """A `\\u0000` escape whose backslash is not itself escaped (raw control characters are
    invalid JSON, which the parser refuses)."""
    start = 0
    while (found := data.find(_JSON_ESCAPE, start)) != -1:
        before = found
        while before > 0 and data[before - 1] == _BACKSLASH:
            before -= 1
        if (found - before) % 2 == 0:
            return True
        start = found + 1
    return False


def _form_has_nul(data: bytes) -> bool:
    return b"%00" in data or b"\x00" in data


class _Scanned:
    """The request's `receive`, refusing the body read by the route once it holds a NUL."""

    __slots__ = ("_carry", "_finds_nul", "_receive")

    def __init__(self, receive: Receive, finds_nul: Callable[[bytes], bool]) -> None:
        self._receive = receive
        self._finds_nul = finds_nul
        self._carry = b""

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            chunk = self._carry + message.get("body", b"")
            if self._finds_nul(chunk):
                # raised into the route reading the body: it stops before acting on it
                raise HTTPException(422, DETAIL)
            self._carry = chunk[-_CARRY:]
        return message
