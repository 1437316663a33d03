"""Client-side helpers that drive the public API the way an application would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.support.mailbox import Mailbox

PASSWORD = "correct horse battery staple"


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
    tokens: dict[str, Any] = response.json()
    me = (await client.get("/v1/me", headers=bearer(tokens["access_token"]))).json()
    return Account(
        email=email,
        password=password,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        user_id=me["id"],
        tenant_id=me["default_tenant_id"],
    )
