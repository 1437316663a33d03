"""The private admin listener of `tenantry serve --admin-listen HOST:PORT` (SPEC §8): one more
uvicorn server, run on a thread of the serving process beside the public listener and its
workers. On a thread it needs no supervision of its own: it starts before the public listener
(or `serve` stops with the error), stops when the public listener does, and cannot outlive the
process."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn

from tenantry.settings import listen_address
from tenantry.transports.cli.listener_options import LISTENER_OPTIONS

ADMIN_APP = "tenantry.transports.rest.app:create_served_admin_app"
STOP_TIMEOUT_SECONDS = 10.0


class AdminListenerFailed(Exception):
    """The admin listener did not start (its address taken, the app failing to start)."""


def _exit(_signal: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


@contextmanager
def admin_listener(address: str | None) -> Iterator[None]:
    """Serve the admin app on `address` (HOST:PORT) while the body runs; nothing if None."""
    if address is None:
        yield
        return
    host, port = listen_address(address)
    config = uvicorn.Config(
        ADMIN_APP,
        factory=True,
        host=host,
        port=port,
        **LISTENER_OPTIONS,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="admin-listener", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.05)
    if not server.started:
        raise AdminListenerFailed(f"the admin listener could not start on {address}")
    # uvicorn re-raises a SIGTERM it handled once the public listener has stopped; exit
    # through `finally` then, so the admin listener stops cleanly too.
    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT_SECONDS)
        signal.signal(signal.SIGTERM, previous)
