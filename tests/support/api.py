"""Client-side helpers that drive the public API the way an application would."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.mailbox import Mailbox

PASSWORD = "correct horse battery staple"
# the platform admin of the `operator` fixture (tests/integration/conftest.py)
OPERATOR_EMAIL = "op@example.com"
OPERATOR_PASSWORD = "operator password 1"


@dataclass
class Account:
    email: str
    password: str
    access_token: str
    refresh_token: str
    user_id: str
    tenant_id: str

    def headers(self, tenant_id: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.access_token}"}
        tenant = tenant_id or self.tenant_id
        if tenant:
            headers["X-Tenant-ID"] = tenant
        return headers


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    email: str,
    *,
    password: str = PASSWORD,
    name: str = "Test User",
) -> Account:
    """Sign up and confirm through the API, reading the code from the real SMTP server."""
    response = await client.post(
        "/v1/auth/signup", json={"email": email, "password": password, "name": name}
    )
    assert response.status_code == 202, response.text
    code = await mailbox.code_for(email, count=len(mailbox.messages(email)) or 1)
    response = await client.post("/v1/auth/confirm", json={"email": email, "code": code})
    assert response.status_code == 200, response.text
    return await _account(client, email, password, response.json())


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> Account:
    """Log in with a password (a new session, with its own tokens)."""
    response = await client.post("/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return await _account(client, email, password, response.json())


async def _account(
    client: httpx.AsyncClient, email: str, password: str, tokens: dict[str, Any]
) -> Account:
    me = (await client.get("/v1/me", headers=bearer(tokens["access_token"]))).json()
    return Account(
        email=email,
        password=password,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        user_id=me["id"],
        tenant_id=me["default_tenant_id"],
    )


INVITATION_TOKEN = re.compile(r"/invite\?token=([A-Za-z0-9_-]+)")


def invitation_tokens(mailbox: Mailbox, email: str) -> list[str]:
    """The tokens of the invitations mailed to `email` so far, oldest first."""
    return [
        found.group(1)
        for mail in mailbox.messages(email)
        if (found := INVITATION_TOKEN.search(mail.text))
    ]


async def mailed_invitation_token(
    mailbox: Mailbox, email: str, *, nth: int = 1, within: float = 10.0
) -> str:
    """The token in the `nth` invitation mailed to `email`, waiting for it to arrive."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        tokens = invitation_tokens(mailbox, email)
        if len(tokens) >= nth:
            return tokens[nth - 1]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no invitation #{nth} to {email} within {within}s")


async def invite_and_join(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    inviter: Account,
    invitee: Account,
    tenant_id: str,
    role: str,
) -> None:
    """Make `invitee` a member through the real invitation API and the mailed accept URL."""
    mailed_before = len(invitation_tokens(mailbox, invitee.email))
    created = await client.post(
        "/v1/invitations",
        headers=inviter.headers(tenant_id),
        json={"email": invitee.email, "role": role},
    )
    assert created.status_code == 201, created.text
    token = await mailed_invitation_token(mailbox, invitee.email, nth=mailed_before + 1)
    accepted = await client.post(
        "/v1/invitations/accept", headers=bearer(invitee.access_token), json={"token": token}
    )
    assert accepted.status_code == 200, accepted.text


async def create_organization(client: httpx.AsyncClient, owner: Account, name: str) -> str:
    """A new organization tenant owned by `owner`; returns its id."""
    created = await client.post(
        "/v1/tenants", headers=bearer(owner.access_token), json={"name": name}
    )
    assert created.status_code == 201, created.text
    tenant_id: str = created.json()["id"]
    return tenant_id
