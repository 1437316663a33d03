"""The newcomer's path: `tenantry serve` with no configuration at all, the code read from the
server log, and a ready workspace after confirming (issue: foundation, SPEC §2)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.net import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def bare_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TENANTRY_")}
    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tenantry", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait(base_url, process)
            yield base_url, log_path
        finally:
            process.terminate()
            process.wait(timeout=15)


def _wait(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "serve exited"
        try:
            httpx.get(f"{base_url}/healthz", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("serve did not come up")


def _code_in_log(log_path: Path, email: str) -> str:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for line in reversed(log_path.read_text().splitlines()):
            if email in line and (match := re.search(r"code is (\d{6})", line)):
                return match.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no code for {email} in the log")


def test_serve_with_no_configuration_onboards_a_newcomer(
    bare_server: tuple[str, Path], tmp_path: Path
) -> None:
    base_url, log_path = bare_server
    data_dir = tmp_path / ".tenantry"
    assert (data_dir / "master.key").exists()
    assert (data_dir / "tenantry.db").exists()
    with httpx.Client(base_url=base_url) as client:
        signup = client.post(
            "/v1/auth/signup",
            json={
                "email": "newcomer@example.com",
                "password": "a long enough password",
                "name": "Neo",
            },
        )
        assert signup.status_code == 202
        code = _code_in_log(log_path, "newcomer@example.com")
        tokens = client.post(
            "/v1/auth/confirm", json={"email": "newcomer@example.com", "code": code}
        ).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = client.get("/v1/me", headers=headers).json()
        projects = client.get(
            "/v1/projects", headers={**headers, "X-Tenant-ID": me["default_tenant_id"]}
        ).json()
        assert me["memberships"][0]["tenant_name"] == "Neo's workspace"
        assert projects["items"][0]["name"] == "My first project"
        jwks = client.get("/.well-known/jwks.json").json()
        assert len(jwks["keys"]) == 1
    assert "BEGIN" not in (data_dir / "master.key").read_text()
