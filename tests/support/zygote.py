"""`python -m tests.support.zygote PORT`: imports the server once, then forks a fresh uvicorn
server on PORT for each line read on stdin and writes back the child's pid. A test that kills
and restarts the server twenty times pays the imports (seconds of CPU on a loaded machine)
once; each child is a whole server process of its own, with its own event loop, database
pool and workers, that a SIGKILL ends like any other. The zygote stays single-threaded and
never starts an event loop, so forking it is safe."""

from __future__ import annotations

import importlib
import os
import signal
import sys

import uvicorn

from tenantry.transports.cli.listener_options import LISTENER_OPTIONS
from tenantry.transports.rest.app import create_served_app

APP = "tenantry.transports.rest.app:create_served_app"


def serve(port: int) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    # stdout is the pipe the test reads pids from: the server's output goes to stderr.
    os.dup2(2, 1)
    uvicorn.run(APP, factory=True, host="127.0.0.1", port=port, **LISTENER_OPTIONS)


def warm_up() -> None:
    """Import what uvicorn and the app import lazily, by building an app (then dropped)."""
    for module in ("loops.auto", "protocols.http.auto", "protocols.websockets.auto", "lifespan.on"):
        importlib.import_module(f"uvicorn.{module}")
    create_served_app()


def main() -> None:
    port = int(sys.argv[1])
    warm_up()
    # Killed servers are reaped by the kernel; their pids vanish as soon as they die.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    for _line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                serve(port)
                status = 0
            finally:
                os._exit(status)
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
