"""Putting a tenant on a plan, or overriding one of its features, through the platform admin
API, for tests of features the default `free` plan leaves out (webhooks, the audit log)."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import update

from tenantry.bootstrap import Container
from tenantry.domain.provider.admins import ensure_platform_admin
from tenantry.storage.models import Tenant
from tests.support.api import (
    OPERATOR_EMAIL,
    OPERATOR_PASSWORD,
    Account,
    bearer,
    register,
    sign_in,
)
from tests.support.mailbox import Mailbox


async def put_on_plan(
    client: httpx.AsyncClient, operator: Account, tenant_id: str, plan: str
) -> None:
    """`PATCH /v1/admin/tenants/{tenant_id}` with `plan`, as the platform admin `operator`."""
    await _patch(client, operator, tenant_id, {"plan": plan})


async def override_features(
    client: httpx.AsyncClient, operator: Account, tenant_id: str, **features: bool | None
) -> None:
    """Feature overrides of the tenant (None drops one, so its plan's value applies)."""
    await _patch(client, operator, tenant_id, {"features": features})


async def _patch(
    client: httpx.AsyncClient, operator: Account, tenant_id: str, body: dict[str, object]
) -> None:
    response = await client.patch(
        f"/v1/admin/tenants/{tenant_id}", headers=bearer(operator.access_token), json=body
    )
    assert response.status_code == 200, response.text


async def register_on_plan(
    container: Container, client: httpx.AsyncClient, mailbox: Mailbox, email: str, plan: str
) -> Account:
    """A new account whose personal workspace a platform admin (made here, as `tenantry admin
    create` would) put on `plan`."""
    account = await register(client, mailbox, email)
    await ensure_platform_admin(
        container.identity, email=OPERATOR_EMAIL, password=OPERATOR_PASSWORD
    )
    operator = await sign_in(client, OPERATOR_EMAIL, OPERATOR_PASSWORD)
    await put_on_plan(client, operator, account.tenant_id, plan)
    return account


async def move_to_plan(container: Container, tenant_id: str, plan: str) -> None:
    """Put the tenant on `plan` behind the API's back, for tests whose subject is not the
    plan: no plan-change event or audit entry lands in what they inspect, and no silo is made
    (only for a plan of the tenant's isolation)."""
    async with container.db.transaction() as session:
        await session.execute(
            update(Tenant).where(Tenant.id == uuid.UUID(tenant_id)).values(plan=plan)
        )
