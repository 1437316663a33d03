"""The NUL character (U+0000) is refused with 422 wherever text comes in: PostgreSQL cannot
store it and failed with a 500 on every route that stores a string, SQLite stored it. Found by
a black-box review on PostgreSQL: tenant, profile and registration names, an admin's reason,
the admin searches."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tenantry.bootstrap import Container
from tenantry.storage.models import Tenant
from tests.support.api import PASSWORD, Account, register
from tests.support.counts import count_rows
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.integration
NUL = "a\u0000b"


def refused(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "validation_error"


@pytest.fixture
async def owner(client: httpx.AsyncClient, mailbox: Mailbox) -> Account:
    return await register(client, mailbox, "owner@example.com")


async def test_json_bodies_with_nul_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, container: Container, owner: Account, operator: Account
) -> None:
    tenants = await count_rows(container.db, Tenant)
    tenant = owner.headers()
    writes: list[tuple[str, str, dict[str, str], Any]] = [
        ("POST", "/v1/tenants", tenant, {"name": NUL}),
        ("PATCH", "/v1/tenant", tenant, {"name": NUL}),
        ("PATCH", "/v1/me", tenant, {"name": NUL}),
        ("PATCH", "/v1/tenant", tenant, {"metadata": {"note": NUL}}),
        ("PATCH", "/v1/tenant", tenant, {"metadata": {NUL: "key"}}),
        (
            "POST",
            "/v1/registrations",
            {},
            {
                "email": "reg@example.com",
                "password": PASSWORD,
                "name": "Reg",
                "tenant_name": NUL,
                "plan": "free",
            },
        ),
        (
            "POST",
            f"/v1/admin/tenants/{owner.tenant_id}/disable",
            operator.headers(),
            {"reason": NUL},
        ),
        (
            "POST",
            "/v1/admin/tenants",
            operator.headers(),
            {"name": "b\u0000", "plan": "free", "owner_email": "o2@example.com"},
        ),
        ("POST", "/graphql", tenant, {"query": f'{{ plans(id: "{NUL}") {{ id }} }}'}),
    ]
    for method, path, headers, body in writes:
        refused(await client.request(method, path, headers=headers, json=body))
    assert await count_rows(container.db, Tenant) == tenants
    me = await client.get("/v1/me", headers=tenant)
    assert "\u0000" not in me.text


async def test_query_strings_and_paths_with_nul_are_refused(
    client: httpx.AsyncClient, operator: Account
) -> None:
    for path in ("/v1/admin/tenants?q=%00", "/v1/admin/users?q=a%00b", "/v1/projects/%00"):
        refused(await client.get(path, headers=operator.headers()))


async def test_web_forms_with_nul_are_refused(client: httpx.AsyncClient) -> None:
    login = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert token is not None
    refused(
        await client.post(
            "/login/code", data={"email": "x\u0000@example.com", "csrf_token": token.group(1)}
        )
    )


async def test_an_escaped_backslash_before_u0000_is_plain_text(
    client: httpx.AsyncClient, owner: Account
) -> None:
    # JSON "a\\u0000b" is the six characters \u0000 written out, not a NUL
    raw = b'{"name": "a\\\\u0000b"}'
    answer = await client.patch(
        "/v1/me", headers={**owner.headers(), "content-type": "application/json"}, content=raw
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == "a\\u0000b"
    odd = b'{"name": "a\\\\\\u0000b"}'  # an escaped backslash, then a NUL
    refused(
        await client.patch(
            "/v1/me", headers={**owner.headers(), "content-type": "application/json"}, content=odd
        )
    )
