"""Cached authorization decisions die with the writes that revoke them, in this process and in
any other process serving the same database (SPEC §3: the very next request)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tenantry.bootstrap import Container
from tenantry.settings import Settings
from tests.support.api import bearer, register
from tests.support.mailbox import Mailbox
from tests.support.server import running_server

pytestmark = pytest.mark.integration


async def _listening(container: Container) -> None:
    """On PostgreSQL the epoch listener connects in the background; wait for it."""
    for _ in range(200):
        if container.db.epoch.current() == container.db.epoch.current():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the access epoch listener never connected")


async def test_logout_in_another_process_ends_this_processs_cached_session(
    client: httpx.AsyncClient, mailbox: Mailbox, settings: Settings, container: Container
) -> None:
    account = await register(client, mailbox, "ann@example.com")
    await _listening(container)
    with running_server(settings) as base_url:
        for _ in range(3):  # warm the cache
            assert (await client.get("/v1/me", headers=bearer(account.access_token))).is_success
            assert (await client.get("/v1/projects", headers=account.headers())).is_success
        async with httpx.AsyncClient(base_url=base_url) as other:
            logout = await other.post(
                "/v1/auth/logout", json={"refresh_token": account.refresh_token}
            )
        assert logout.status_code == 204
        me = await client.get("/v1/me", headers=bearer(account.access_token))
        projects = await client.get("/v1/projects", headers=account.headers())
    assert me.status_code == projects.status_code == 401
    assert me.json()["code"] == "token_revoked"


async def test_profile_changes_are_seen_at_once_by_other_processes(
    client: httpx.AsyncClient, mailbox: Mailbox, settings: Settings, container: Container
) -> None:
    account = await register(client, mailbox, "bob@example.com", name="Bob")
    await _listening(container)
    with running_server(settings) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as other:
            assert (await other.get("/v1/me", headers=bearer(account.access_token))).is_success
            renamed = await client.patch(
                "/v1/me", headers=bearer(account.access_token), json={"name": "Robert"}
            )
            assert renamed.status_code == 200
            seen = await other.get("/v1/me", headers=bearer(account.access_token))
    assert seen.json()["name"] == "Robert"
