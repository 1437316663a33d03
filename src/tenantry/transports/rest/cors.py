"""Open CORS for `POST /v1/collect` alone (SPEC §10): any web page may send events with a
client key, and nothing else of the API is exposed to other origins. A pure ASGI middleware so
that error answers (401, 413, 429 ...) carry the header too and browsers can read them."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

COLLECT_PATH = "/v1/collect"
ALLOW_ORIGIN = (b"access-control-allow-origin", b"*")
PREFLIGHT_HEADERS = [
    ALLOW_ORIGIN,
    (b"access-control-allow-methods", b"POST"),
    (b"access-control-allow-headers", b"content-type, x-client-key"),
    (b"access-control-max-age", b"86400"),
    (b"content-length", b"0"),
]


class CollectCors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != COLLECT_PATH:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": PREFLIGHT_HEADERS})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_origin(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), ALLOW_ORIGIN]
            await send(message)

        await self.app(scope, receive, send_with_origin)
