"""A real Tenantry server process, for tests that need parallel HTTP requests hitting a
separate process (races, lockout counting) or a process to kill (crash consistency)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tenantry.settings import Settings
from tenantry.transports.cli.listener_options import KEEP_ALIVE_SECONDS
from tests.support.net import free_port

# Importing the app takes seconds of CPU; two workers on a loaded 2-core machine took over 30.
STARTUP_SECONDS = 90

REPOSITORY = Path(__file__).resolve().parents[2]


def settings_environment(settings: Settings) -> dict[str, str]:
    values = {
        "TENANTRY_DATABASE_URL": settings.effective_database_url,
        "TENANTRY_DATA_DIR": str(settings.data_dir),
        "TENANTRY_PUBLIC_URL": settings.public_url,
        "TENANTRY_MASTER_KEY": settings.master_key or "",
        "TENANTRY_SMTP_URL": settings.smtp_url or "",
        "TENANTRY_ARGON2_MEMORY_KIB": str(settings.argon2_memory_kib),
        "TENANTRY_ARGON2_TIME_COST": str(settings.argon2_time_cost),
        "TENANTRY_LOG_LEVEL": "WARNING",
        "TENANTRY_WEBHOOK_ALLOW_PRIVATE": "true" if settings.webhook_allow_private else "",
        "TENANTRY_HUBSPOT_CLIENT_SECRET": settings.hubspot_client_secret or "",
        "TENANTRY_MAX_BODY_BYTES": str(settings.max_body_bytes),
        "TENANTRY_REQUEST_TIMEOUT": str(settings.request_timeout),
        "TENANTRY_ADDRESS_MAIL_LIMIT": str(settings.address_mail_limit),
        "TENANTRY_INVITATION_MAIL_LIMIT": str(settings.invitation_mail_limit),
        "TENANTRY_TENANT_INVITATION_MAIL_LIMIT": str(settings.tenant_invitation_mail_limit),
        "TENANTRY_ADDRESS_MAIL_TOTAL_LIMIT": str(settings.address_mail_total_limit),
        "TENANTRY_CLIENT_HASH_LIMIT": str(settings.client_hash_limit),
        "TENANTRY_REGISTRATION_CLIENT_LIMIT": str(settings.registration_client_limit),
        "TENANTRY_TRUSTED_PROXIES": ",".join(str(network) for network in settings.trusted_proxies),
    }
    return {key: value for key, value in values.items() if value}


@contextmanager
def running_server(
    settings: Settings, *, workers: int = 1, admin_listen: str | None = None
) -> Iterator[str]:
    """Serve `settings` from a uvicorn subprocess; yields its base URL. With `admin_listen`
    the server is `tenantry serve --admin-listen`, the admin routes on that address alone."""
    port = free_port()
    environment = {**os.environ, **settings_environment(settings)}
    command = _command(port, workers=workers, admin_listen=admin_listen)
    process = subprocess.Popen(command, env=environment)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base_url, lambda: process.poll() is None)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=15)


class KillableServer:
    """A server that a test kills (SIGKILL: no clean-up at all) and starts again on the same
    port, so its clients carry on with the same base URL. Each start is a fresh process
    forked from a zygote that has imported the server once (tests/support/zygote.py)."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._zygote = subprocess.Popen(
            [sys.executable, "-m", "tests.support.zygote", str(self.port)],
            env={**os.environ, **settings_environment(settings)},
            cwd=REPOSITORY,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._pid: int | None = None

    def start(self) -> None:
        assert self._zygote.stdin and self._zygote.stdout
        self._zygote.stdin.write("start\n")
        self._zygote.stdin.flush()
        self._pid = int(self._zygote.stdout.readline())
        _wait_until_up(self.base_url, self.alive)

    def alive(self) -> bool:
        if self._pid is None:
            return False
        try:
            os.kill(self._pid, 0)
        except ProcessLookupError:
            return False
        return True

    def kill(self) -> None:
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        self._end(signal.SIGTERM)

    def close(self) -> None:
        """Stop the server and the zygote."""
        self.stop()
        self._zygote.communicate(timeout=15)

    def _end(self, how: signal.Signals) -> None:
        if self.alive():
            assert self._pid is not None
            os.kill(self._pid, how)
        deadline = time.monotonic() + 15
        while self.alive():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not end within 15 s of {how.name}")
            time.sleep(0.02)
        self._pid = None


def _command(port: int, *, workers: int, admin_listen: str | None) -> list[str]:
    if admin_listen is not None:
        return [
            *(sys.executable, "-m", "tenantry", "serve", "--no-migrate"),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
            *("--admin-listen", admin_listen),
        ]
    return [
        *(sys.executable, "-m", "uvicorn", "--factory"),
        "tenantry.transports.rest.app:create_served_app",
        *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
        *("--log-level", "warning"),
        # as `tenantry serve` does (LISTENER_OPTIONS)
        *("--no-server-header", "--timeout-keep-alive", str(KEEP_ALIVE_SECONDS)),
    ]


def _wait_until_up(base_url: str, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("the server process exited during start-up")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not start within {STARTUP_SECONDS} s")
