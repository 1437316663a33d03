"""Platform admins disable and enable user accounts (`/v1/admin/users/{id}/disable|enable`):
a disabled account cannot sign in by any means, and enabling it lets it sign in again; nobody
else may do either. That every token dies at once is catalogue case 20 (test_sessions.py)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from tenantry.bootstrap import Container
from tenantry.storage.models import DomainEvent
from tests.support.api import Account, bearer
from tests.support.mailbox import Mailbox
from tests.support.routes import assert_problem

pytestmark = pytest.mark.integration


async def switch(
    client: httpx.AsyncClient, caller: Account | None, user_id: str, action: str
) -> httpx.Response:
    headers = bearer(caller.access_token) if caller else {}
    return await client.post(f"/v1/admin/users/{user_id}/{action}", headers=headers)


async def login(client: httpx.AsyncClient, account: Account) -> httpx.Response:
    return await client.post(
        "/v1/auth/login", json={"email": account.email, "password": account.password}
    )


async def test_a_disabled_account_cannot_sign_in_until_enabled(
    client: httpx.AsyncClient,
    container: Container,
    mailbox: Mailbox,
    operator: Account,
    ann: Account,
) -> None:
    assert (await switch(client, operator, ann.user_id, "disable")).status_code == 204
    assert (await switch(client, operator, ann.user_id, "disable")).status_code == 204  # no-op

    assert_problem(await login(client, ann), 401, "invalid_credentials")
    listed = await client.get(
        "/v1/admin/users", params={"q": ann.email}, headers=bearer(operator.access_token)
    )
    assert [user["disabled_at"] is not None for user in listed.json()["items"]] == [True]
    sent = len(mailbox.messages(ann.email))
    assert (await client.post("/v1/auth/email-code", json={"email": ann.email})).status_code == 202
    await asyncio.sleep(0.5)  # the mail worker's chance to send a code
    assert len(mailbox.messages(ann.email)) == sent  # a code could not sign in a disabled account

    assert (await switch(client, operator, ann.user_id, "enable")).status_code == 204
    assert (await login(client, ann)).status_code == 200
    async with container.db.read() as session:
        changes = await session.scalars(
            select(DomainEvent.data).where(DomainEvent.type == "user.updated")
        )
        assert [change["disabled"] for change in changes] == [True, False]


async def test_only_platform_admins_switch_accounts_and_not_their_own(
    client: httpx.AsyncClient, operator: Account, ann: Account, bob: Account
) -> None:
    for action in ("disable", "enable"):
        assert_problem(await switch(client, None, bob.user_id, action), 401, "missing_token")
        assert_problem(
            await switch(client, ann, bob.user_id, action), 403, "platform_admin_required"
        )
        unknown = "00000000-0000-4000-8000-000000000000"
        assert_problem(await switch(client, operator, unknown, action), 404, "user_not_found")
    assert_problem(await switch(client, operator, operator.user_id, "disable"), 409, "own_account")
    assert (await login(client, bob)).status_code == 200
