"""A real HTTP server on loopback standing in for a customer's webhook receiver: it records
every request and answers with the statuses it is told to, in order (then 200)."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.net import free_port


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    # A dispatcher sends up to 50 deliveries at once: the default backlog of 5 would
    # reset connections.
    request_queue_size = 128


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.statuses: deque[int] = deque()
        self.always: int | None = None
        self.location: str | None = None
        self.delay = 0.0  # seconds to wait before answering
        self.tls = False
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", self.port), self._handler())

    def url(self, path: str = "/hook", *, host: str = "127.0.0.1") -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def use_tls(self, context: ssl.SSLContext) -> None:
        """Serve HTTPS (call before `start`)."""
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.tls = True

    def answer(self, *statuses: int) -> None:
        self.statuses.extend(statuses)

    def _next_status(self) -> int:
        with self._lock:
            if self.statuses:
                return self.statuses.popleft()
        return self.always or 200

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                status = receiver._next_status()
                with receiver._lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                time.sleep(receiver.delay)
                self.send_response(status)
                if receiver.location and 300 <= status < 400:
                    self.send_header("location", receiver.location)
                self.send_header("content-type", "text/plain")
                self.end_headers()
                self.wfile.write(f"answered {status}".encode())

            def log_message(self, *_args: Any) -> None:
                return

        return Handler

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    async def wait_for(self, count: int, *, within: float = 10.0) -> list[Received]:
        """The first `count` requests, once that many have arrived."""
        async with asyncio.timeout(within):
            while len(self.received) < count:  # noqa: ASYNC110 - filled by a server thread
                await asyncio.sleep(0.02)
        return list(self.received)
