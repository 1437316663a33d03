"""`tenantry serve --admin-listen HOST:PORT` (SPEC §8): the admin routes on a private listener
and not on the public one, with one worker or several, started and stopped with the server."""

from __future__ import annotations

import socket

import httpx
import pytest

from tenantry.bootstrap import Container
from tenantry.domain.provider.admins import ensure_platform_admin
from tenantry.settings import Settings
from tenantry.transports.rest.app import create_app
from tests.integration.test_route_inventory import admin_routes, concrete
from tests.support.api import bearer
from tests.support.cli import tenantry
from tests.support.net import free_port
from tests.support.routes import assert_problem
from tests.support.server import running_server

pytestmark = pytest.mark.integration

OPERATOR_EMAIL = "op@example.com"
OPERATOR_PASSWORD = "operator password 1"


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await client.post("/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


@pytest.mark.catalogue(38)
@pytest.mark.parametrize("workers", [1, 2])
async def test_admin_routes_move_to_the_admin_listener(
    settings: Settings, container: Container, workers: int
) -> None:
    await ensure_platform_admin(
        container.identity, email=OPERATOR_EMAIL, password=OPERATOR_PASSWORD
    )
    admin_address = f"127.0.0.1:{free_port()}"
    with running_server(settings, workers=workers, admin_listen=admin_address) as base_url:
        async with (
            httpx.AsyncClient(base_url=base_url, timeout=30) as public,
            httpx.AsyncClient(base_url=f"http://{admin_address}", timeout=30) as private,
        ):
            operator = await sign_in(public, OPERATOR_EMAIL, OPERATOR_PASSWORD)
            for _ in range(2 * workers):  # whichever worker answers
                hidden = await public.get("/v1/admin/tenants", headers=operator)
                assert_problem(hidden, 404, "not_found")
            assert (await public.get("/v1/tenants", headers=operator)).status_code == 200

            listed = await private.get("/v1/admin/tenants", headers=operator)
            assert listed.status_code == 200, listed.text
            assert [item["name"] for item in listed.json()["items"]] == ["op's workspace"]
            assert (await private.get("/healthz")).status_code == 200
            assert_problem(await private.get("/v1/admin/tenants"), 401, "missing_token")
            assert_problem(await private.get("/v1/tenants", headers=operator), 404, "not_found")
            for method, path in admin_routes(create_app(container)):
                hidden = await public.request(method, concrete(path), headers=operator, json={})
                assert_problem(hidden, 404, "not_found")
                served = await private.request(method, concrete(path), headers=operator, json={})
                assert served.json().get("code") != "not_found", (method, path, served.text)
    async with httpx.AsyncClient(timeout=2) as after:
        with pytest.raises(httpx.ConnectError):  # stopped with the server
            await after.get(f"http://{admin_address}/healthz")


async def test_serve_stops_when_the_admin_address_is_taken(
    settings: Settings, container: Container
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = await tenantry(
            settings,
            "serve",
            "--no-migrate",
            "--port",
            str(free_port()),
            "--admin-listen",
            f"127.0.0.1:{port}",
        )
    assert result.returncode == 1, result.stderr
    assert "admin listener could not start" in result.stderr


@pytest.mark.parametrize("address", ["8001", "localhost:", ":8001", "host:99999"])
async def test_serve_refuses_a_malformed_admin_address(address: str) -> None:
    result = await tenantry(None, "serve", "--no-migrate", "--admin-listen", address)
    assert result.returncode == 2
    assert "HOST:PORT" in result.stderr
