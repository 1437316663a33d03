"""A tenant full of objects, made through the API, whose ids generated requests can name."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from tests.support.api import create_organization, invite_and_join, register
from tests.support.mailbox import Mailbox
from tests.support.routes import create


@dataclass(frozen=True)
class Seeded:
    headers: dict[str, str]  # Ann's token and tenant
    ids: dict[str, str]


async def seed(client: httpx.AsyncClient, mailbox: Mailbox) -> Seeded:
    """An organization owned by Ann with a member, a project, an environment, a team, a
    product, an order and a pending invitation: ids the generated paths can name."""
    ann = await register(client, mailbox, "ann@example.com", name="Ann")
    bob = await register(client, mailbox, "bob@example.com", name="Bob")
    tenant_id = await create_organization(client, ann, "Acme")
    headers = ann.headers(tenant_id)
    await invite_and_join(client, mailbox, ann, bob, tenant_id, "editor")
    project = await create(client, "/v1/projects", headers, name="App")
    environments = f"/v1/projects/{project['id']}/environments"
    environment = await create(client, environments, headers, name="Staging")
    team = await create(client, "/v1/teams", headers, name="Core")
    product = await create(
        client, "/v1/products", headers, name="Widget", price_cents=250, currency="EUR"
    )
    order = await create(
        client, "/v1/orders", headers, lines=[{"product_id": product["id"], "quantity": 1}]
    )
    invitation = await create(
        client, "/v1/invitations", headers, email="carol@example.com", role="viewer"
    )
    ids = {
        "tenant_id": tenant_id,
        "user_id": bob.user_id,
        "project_id": project["id"],
        "environment_id": environment["id"],
        "team_id": team["id"],
        "product_id": product["id"],
        "order_id": order["id"],
        "invitation_id": invitation["id"],
    }
    # The ingest route's own credential, so that its cases reach the body.
    headers = {**headers, "X-Client-Key": environment["client_key"]}
    return Seeded(headers, ids)
