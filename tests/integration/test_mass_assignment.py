"""Mass assignment (security catalogue 25): every route that creates or changes something is sent
the fields an attacker would add (`tenant_id`, `role`, `owner_id`, `is_admin`, `id` and their
relatives) on top of a body it accepts. Each answer is a success or a 422, and afterwards no row
carries the forced id, no row was added to the other tenant, no role, owner, plan or status
changed, and nobody became a platform admin."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Table, func, select

from tenantry.bootstrap import Container
from tenantry.storage.models import Base, Membership, Tenant, User
from tenantry.storage.tenant_models import TenantDataBase
from tests.support.api import PASSWORD, Account, bearer, register
from tests.support.mailbox import Mailbox
from tests.support.routes import Org, create, make_org

pytestmark = [pytest.mark.integration, pytest.mark.catalogue(25)]

PROJECT = "/v1/projects/{project}"
ENVIRONMENT = f"{PROJECT}/environments/{{env}}"
TEAM = "/v1/teams/{team}"
EXPERIMENT = f"{PROJECT}/experiments/{{experiment}}"
TABLES: list[Table] = [*Base.metadata.sorted_tables, *TenantDataBase.metadata.sorted_tables]


@dataclass(frozen=True)
class Write:
    """A creating or changing route, the least role allowed to call it, a body it accepts, and
    the attack fields it legitimately takes (left out of the attack)."""

    method: str
    path: str
    actor: str
    body: dict[str, Any]
    takes: frozenset[str] = frozenset()

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


WRITES = [
    Write("PATCH", "/v1/me", "viewer", {"name": "Renamed"}),
    Write("POST", "/v1/tenants", "viewer", {"name": "Side business"}),
    Write("PATCH", "/v1/tenant", "admin", {"name": "Acme 2", "profile": {"industry": "Retail"}}),
    Write("POST", "/v1/projects", "editor", {"name": "Shop"}),
    Write("PATCH", PROJECT, "editor", {"name": "Web 2"}),
    Write("PUT", f"{PROJECT}/teams/{{team}}", "editor", {}),
    Write("POST", f"{PROJECT}/environments", "editor", {"name": "Staging"}),
    Write("PATCH", ENVIRONMENT, "editor", {"name": "Dev"}),
    Write("POST", f"{ENVIRONMENT}/rotate-key", "admin", {}),
    Write("POST", "/v1/teams", "admin", {"name": "Platform"}),
    Write("PATCH", TEAM, "admin", {"name": "Core 2"}),
    Write("PUT", f"{TEAM}/members/{{viewer}}", "admin", {}),
    Write(
        "POST", "/v1/products", "editor", {"name": "Gadget", "price_cents": 5, "currency": "EUR"}
    ),
    Write("PATCH", "/v1/products/{product}", "editor", {"name": "Widget 2"}),
    Write("POST", "/v1/orders", "editor", {"lines": [{"product_id": "{product}", "quantity": 1}]}),
    Write("POST", f"{PROJECT}/experiments", "editor", {"name": "Colour test"}),
    Write("POST", f"{EXPERIMENT}/deploy", "editor", {"environment_id": "{env}"}),
    Write(
        "POST",
        "/v1/invitations",
        "admin",
        {"email": "new@example.com", "role": "viewer"},
        takes=frozenset({"role"}),
    ),
    Write("POST", "/v1/invitations/{invitation}/resend", "admin", {}),
    Write("PATCH", "/v1/members/{viewer}", "admin", {"role": "editor"}, takes=frozenset({"role"})),
    Write(
        "POST",
        "/v1/webhook-endpoints",
        "admin",
        {"url": "https://93.184.215.14/hook", "events": ["*"]},
    ),
    Write(
        "POST",
        "/v1/auth/password/change",
        "viewer",
        {"current_password": PASSWORD, "password": f"{PASSWORD} again"},
    ),
]


def attack(forced_id: uuid.UUID, victim: Account) -> dict[str, Any]:
    """Fields no creating or changing route takes, each aimed at the other tenant or at more
    power."""
    return {
        "id": str(forced_id),
        "tenant_id": victim.tenant_id,
        "owner_id": victim.user_id,
        "user_id": victim.user_id,
        "personal_owner_id": victim.user_id,
        "created_by": victim.user_id,
        "placed_by": victim.user_id,
        "role": "owner",
        "is_admin": True,
        "is_platform_admin": True,
        "plan": "platinum",
        "status": "disabled",
        "kind": "personal",
        "isolation": "silo",
        "email_verified": True,
    }


@dataclass
class Scene:
    org: Org
    victim: Account
    ids: dict[str, str]


@pytest.fixture
async def scene(client: httpx.AsyncClient, mailbox: Mailbox, container: Container) -> Scene:
    """Acme (on a plan with room and webhooks) with one of everything, and Victor, who owns
    the tenant the attack points at."""
    org = await make_org(client, mailbox, container)
    await container.plan_changes.change_plan(
        tenant_id=uuid.UUID(org.tenant_id), plan=container.plans.get("standard"), actor_id=None
    )
    victim = await register(client, mailbox, "victor@example.com")
    owner = org.headers("owner")
    project = await create(client, "/v1/projects", owner, name="Web")
    envs = await client.get(f"/v1/projects/{project['id']}/environments", headers=owner)
    product = await create(
        client, "/v1/products", owner, name="Widget", price_cents=250, currency="EUR"
    )
    experiment = await create(
        client, f"/v1/projects/{project['id']}/experiments", owner, name="Layout"
    )
    invitation = await create(
        client, "/v1/invitations", owner, email="invitee@example.com", role="viewer"
    )
    ids = {
        "project": project["id"],
        "env": next(e["id"] for e in envs.json()["items"] if e["slug"] == "development"),
        "team": (await create(client, "/v1/teams", owner, name="Core"))["id"],
        "product": product["id"],
        "experiment": experiment["id"],
        "invitation": invitation["id"],
        "viewer": org.members["viewer"].user_id,
    }
    return Scene(org, victim, ids)


@dataclass(frozen=True)
class State:
    """What an applied attack field would change."""

    victims_rows: dict[str, int]
    memberships: set[tuple[uuid.UUID, uuid.UUID, str]]
    tenants: dict[uuid.UUID, tuple[str, str, str, str, uuid.UUID | None]]
    admins: int


async def state(container: Container, victim: Account) -> State:
    victims_tenant = uuid.UUID(victim.tenant_id)
    async with container.db.read() as session:
        rows = {
            table.name: await session.scalar(
                select(func.count()).select_from(table).where(table.c.tenant_id == victims_tenant)
            )
            or 0
            for table in TABLES
            if "tenant_id" in table.c
        }
        memberships = await session.execute(
            select(Membership.tenant_id, Membership.user_id, Membership.role)
        )
        tenants = await session.execute(
            select(
                Tenant.id,
                Tenant.kind,
                Tenant.plan,
                Tenant.status,
                Tenant.isolation,
                Tenant.personal_owner_id,
            )
        )
        admins = await session.scalar(
            select(func.count()).select_from(User).where(User.is_platform_admin.is_(True))
        )
    return State(
        victims_rows=rows,
        memberships={(t, u, r) for t, u, r in memberships},
        tenants={
            row.id: (row.kind, row.plan, row.status, row.isolation, row.personal_owner_id)
            for row in tenants
        },
        admins=admins or 0,
    )


async def rows_with_id(container: Container, forced_id: uuid.UUID) -> list[str]:
    async with container.db.read() as session:
        return [
            table.name
            for table in TABLES
            if "id" in table.c
            and await session.scalar(
                select(func.count()).select_from(table).where(table.c.id == forced_id)
            )
        ]


def refused_for_extra_fields(response: httpx.Response) -> bool:
    """A 422 naming only fields the route does not take: refusing the attack is allowed too."""
    if response.status_code != 422:
        return False
    issues = response.json()["errors"]
    return bool(issues) and all(issue["type"] == "extra_forbidden" for issue in issues)


def filled(value: Any, ids: dict[str, str]) -> Any:
    """`value` with `{name}` placeholders replaced by the scene's ids, at any depth."""
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {key: filled(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [filled(item, ids) for item in value]
    return value


@pytest.mark.parametrize("write", WRITES, ids=str)
async def test_fields_a_route_does_not_take_are_never_applied(
    client: httpx.AsyncClient, container: Container, scene: Scene, write: Write
) -> None:
    forced_id = uuid.uuid4()
    actor = scene.org.members[write.actor]
    injected = {
        key: value
        for key, value in attack(forced_id, scene.victim).items()
        if key not in write.takes
    }
    body = {**injected, **filled(write.body, scene.ids)}
    before = await state(container, scene.victim)

    response = await client.request(
        write.method,
        filled(write.path, scene.ids),
        headers=actor.headers(scene.org.tenant_id),
        json=body,
    )

    assert response.is_success or refused_for_extra_fields(response), response.text
    after = await state(container, scene.victim)
    assert await rows_with_id(container, forced_id) == []
    assert after.victims_rows == before.victims_rows
    assert after.admins == before.admins == 0
    assert {t: after.tenants[t] for t in before.tenants} == before.tenants
    created = set(after.tenants) - set(before.tenants)
    for tenant_id in created:  # POST /v1/tenants: an organization of the caller's, as always
        assert after.tenants[tenant_id] == ("organization", "free", "active", "pool", None)
    # PATCH /v1/members/{viewer} takes `role` and changes that one membership, as asked.
    asked = {
        (uuid.UUID(scene.org.tenant_id), uuid.UUID(scene.ids["viewer"]), role)
        for role in ("viewer", "editor")
        if "role" in write.takes and write.path.startswith("/v1/members/")
    }
    created_owners = {(t, uuid.UUID(actor.user_id), "owner") for t in created}
    assert after.memberships ^ before.memberships <= asked | created_owners
    assert created_owners <= after.memberships


async def test_accepting_an_invitation_takes_the_invited_role_and_tenant_only(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox, scene: Scene
) -> None:
    invitee = await register(client, mailbox, "carol@example.com")
    invitation = await create(
        client, "/v1/invitations", scene.org.headers("admin"), email=invitee.email, role="viewer"
    )
    token = invitation["accept_url"].partition("token=")[2]
    before = await state(container, scene.victim)

    accepted = await client.post(
        "/v1/invitations/accept",
        headers=bearer(invitee.access_token),
        json={"token": token, **attack(uuid.uuid4(), scene.victim)},
    )

    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"tenant_id": scene.org.tenant_id, "role": "viewer"}
    after = await state(container, scene.victim)
    assert after.victims_rows == before.victims_rows
    assert after.memberships - before.memberships == {
        (uuid.UUID(scene.org.tenant_id), uuid.UUID(invitee.user_id), "viewer")
    }


async def test_sign_up_takes_no_tenant_role_or_admin_flag(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox, scene: Scene
) -> None:
    forced_id = uuid.uuid4()
    signed_up = await client.post(
        "/v1/auth/signup",
        json={
            "email": "mallory@example.com",
            "password": "a long enough password",
            "name": "Mallory",
            **attack(forced_id, scene.victim),
        },
    )
    assert signed_up.status_code == 202, signed_up.text
    code = await mailbox.code_for("mallory@example.com")
    confirmed = await client.post(
        "/v1/auth/confirm",
        json={"email": "mallory@example.com", "code": code, **attack(forced_id, scene.victim)},
    )
    assert confirmed.status_code == 200, confirmed.text

    me = (await client.get("/v1/me", headers=bearer(confirmed.json()["access_token"]))).json()
    assert me["id"] != str(forced_id)
    assert [(m["tenant_kind"], m["role"]) for m in me["memberships"]] == [("personal", "owner")]
    assert me["default_tenant_id"] == me["memberships"][0]["tenant_id"] != scene.victim.tenant_id
    assert await rows_with_id(container, forced_id) == []
    assert (await state(container, scene.victim)).admins == 0
    registration = await client.post(
        "/v1/registrations",
        json={
            "tenant_name": "Mallory Inc",
            "email": "mallory2@example.com",
            "name": "Mallory",
            "password": "a long enough password",
            "plan": "free",
            **attack(forced_id, scene.victim),
        },
    )
    assert refused_for_extra_fields(registration), registration.text
