"""Refresh and login read the holder's columns together with the token or the lockout count
(one statement on PostgreSQL, a few on SQLite): the new access token carries the holder's
current columns, and a disabled holder gets nothing, on both databases."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update

from tenantry.bootstrap import Container
from tenantry.storage.models import User
from tests.support.api import Account, register
from tests.support.mailbox import Mailbox
from tests.support.tokens import assert_unauthenticated, split

pytestmark = pytest.mark.integration


@pytest.fixture
async def account(client: httpx.AsyncClient, mailbox: Mailbox) -> Account:
    return await register(client, mailbox, "holder@example.com")


async def _refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post("/v1/auth/refresh", json={"refresh_token": refresh_token})


async def _set_disabled(container: Container, account: Account, *, disabled: bool) -> None:
    async with container.db.transaction() as session:
        await session.execute(
            update(User)
            .where(User.email_key == account.email)
            .values(disabled_at=container.clock.now() if disabled else None)
        )


async def test_a_refreshed_access_token_carries_the_holders_current_columns(
    client: httpx.AsyncClient, container: Container, account: Account
) -> None:
    response = await _refresh(client, account.refresh_token)
    assert response.status_code == 200, response.text
    _header, claims = split(response.json()["access_token"])
    _header, first = split(account.access_token)
    assert claims["sub"] == account.user_id
    assert claims["sid"] == first["sid"]
    assert claims["email"] == account.email
    assert claims["email_verified"] is True
    assert claims["tenant"] == account.tenant_id


async def test_a_disabled_holder_cannot_refresh_and_the_token_is_spent(
    client: httpx.AsyncClient, container: Container, account: Account
) -> None:
    await _set_disabled(container, account, disabled=True)

    assert_unauthenticated(await _refresh(client, account.refresh_token), "invalid_refresh_token")

    # The presented token was rotated all the same: once re-enabled, presenting it again is
    # reuse, which revokes the family.
    await _set_disabled(container, account, disabled=False)
    assert_unauthenticated(await _refresh(client, account.refresh_token), "invalid_refresh_token")
    login = await client.post(
        "/v1/auth/login", json={"email": account.email, "password": account.password}
    )
    assert login.status_code == 200, login.text
    assert (await _refresh(client, login.json()["refresh_token"])).status_code == 200


async def test_a_disabled_holder_cannot_log_in_even_with_the_right_password(
    client: httpx.AsyncClient, container: Container, account: Account
) -> None:
    await _set_disabled(container, account, disabled=True)
    response = await client.post(
        "/v1/auth/login", json={"email": account.email, "password": account.password}
    )
    assert_unauthenticated(response, "invalid_credentials")
