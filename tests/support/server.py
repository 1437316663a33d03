"""A real Tenantry server process, for tests that need parallel HTTP requests hitting a
separate process (races, lockout counting)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tenantry.settings import Settings
from tests.support.net import free_port


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
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "tenantry.transports.rest.app:create_served_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    if admin_listen is not None:
        command = [
            *(sys.executable, "-m", "tenantry", "serve", "--no-migrate"),
            *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
            *("--admin-listen", admin_listen),
        ]
    process = subprocess.Popen(command, env=environment)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base_url, process)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=15)


def _wait_until_up(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server process exited during start-up")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start within 30 s")
