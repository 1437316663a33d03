"""Driving tenant-scoped routes (SPEC §3, §6): an organization with one account per role, the
access checks every such route shares (no token, another tenant's caller, a role below the
minimum), creating things, and reading a list through its cursors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tenantry.bootstrap import Container
from tenantry.domain.accounts.roles import ROLE_RANK
from tests.support.api import Account, create_organization, register
from tests.support.mailbox import Mailbox
from tests.support.tenancy import add_member


@dataclass(frozen=True)
class Org:
    """An organization tenant and a member of it in each role."""

    tenant_id: str
    members: dict[str, Account]

    def headers(self, role: str) -> dict[str, str]:
        return self.members[role].headers(self.tenant_id)


async def make_org(client: httpx.AsyncClient, mailbox: Mailbox, container: Container) -> Org:
    owner = await register(client, mailbox, "owner@example.com", name="Owner")
    tenant_id = await create_organization(client, owner, "Acme")
    members = {"owner": owner}
    for role in ("admin", "editor", "viewer"):
        account = await register(client, mailbox, f"{role}@example.com", name=role.title())
        await add_member(container, tenant_id=tenant_id, user_id=account.user_id, role=role)
        members[role] = account
    return Org(tenant_id, members)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    minimum: str
    body: dict[str, Any] | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


async def create(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    """POST `body` to a creating route and return what it created."""
    response = await client.post(path, headers=headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


async def assert_guarded(
    client: httpx.AsyncClient, route: Route, *, org: Org, outsider: Account, **ids: str
) -> None:
    """`route` (its path formatted with `ids`) refuses a caller without a token, a caller from
    another tenant and every role below its minimum."""
    path = route.path.format(**ids)

    async def call(headers: dict[str, str]) -> httpx.Response:
        return await client.request(route.method, path, headers=headers, json=route.body)

    assert_problem(await call({"X-Tenant-ID": org.tenant_id}), 401, "missing_token")
    assert_problem(await call(outsider.headers(org.tenant_id)), 403, "tenant_access_denied")
    for role, rank in ROLE_RANK.items():
        if rank < ROLE_RANK[route.minimum]:
            assert_problem(await call(org.headers(role)), 403, "insufficient_role")


async def all_pages(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    path: str,
    *,
    key: str = "id",
    after: str | None = None,
) -> list[str]:
    """Every item's `key` (after the cursor `after`), read one item per page by following
    `next_cursor`."""
    keys: list[str] = []
    params: dict[str, str | int] = {"limit": 1} | ({"cursor": after} if after else {})
    while True:
        page = (await client.get(path, headers=headers, params=params)).json()
        keys += [item[key] for item in page["items"]]
        if page["next_cursor"] is None:
            return keys
        params["cursor"] = page["next_cursor"]
