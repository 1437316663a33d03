"""The bulk loader behind `tenantry dev seed`, on both databases at small counts."""

from __future__ import annotations

import subprocess
import uuid
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select

from tenantry.bootstrap import Container
from tenantry.seeding import (
    SEED_PASSWORD,
    AlreadySeeded,
    SeedCounts,
    seed,
    seed_email,
)
from tenantry.settings import Settings
from tenantry.storage.models import Membership, Tenant, User
from tests.support.cli import tenantry

pytestmark = pytest.mark.integration

COUNTS = SeedCounts(users=50, organizations=5, memberships=150)


async def _seed(container: Container, counts: SeedCounts = COUNTS) -> None:
    await seed(container.db, counts, passwords=container.passwords, plans=container.plans)


async def _totals(container: Container) -> tuple[int, int, int]:
    async with container.db.read() as session:
        users = await session.scalar(select(func.count()).select_from(User))
        tenants = await session.scalar(select(func.count()).select_from(Tenant))
        memberships = await session.scalar(select(func.count()).select_from(Membership))
    return users or 0, tenants or 0, memberships or 0


async def test_seed_creates_the_requested_accounts_tenants_and_memberships(
    container: Container,
) -> None:
    await _seed(container)

    assert await _totals(container) == (50, 55, 150)
    async with container.db.read() as session:
        users = list(await session.scalars(select(User)))
        tenants = {tenant.id: tenant for tenant in await session.scalars(select(Tenant))}
        memberships = list(await session.scalars(select(Membership)))
    assert {user.email for user in users} == {seed_email(index) for index in range(50)}
    assert all(user.email_verified and not user.is_platform_admin for user in users)
    assert len({user.password_hash for user in users}) == 1
    roles = {(m.tenant_id, m.user_id): m.role for m in memberships}
    for user in users:
        personal = tenants[user.default_tenant_id] if user.default_tenant_id else None
        assert personal is not None, user.email
        assert personal.kind == "personal"
        assert personal.personal_owner_id == user.id
        assert personal.status == "active" and personal.isolation == "pool"
        assert roles[(personal.id, user.id)] == "owner"
    organizations = [tenant for tenant in tenants.values() if tenant.kind == "organization"]
    assert len(organizations) == 5
    sizes = Counter(m.tenant_id for m in memberships if tenants[m.tenant_id].kind != "personal")
    assert sorted(sizes.values()) == [20] * 5
    for organization in organizations:
        assert organization.personal_owner_id is None
        owners = [m for m in memberships if m.tenant_id == organization.id and m.role == "owner"]
        assert len(owners) == 1
        # The plan admits the organization's members.
        limit = container.plans.get(organization.plan).limits.get("members")
        assert limit is None or limit >= sizes[organization.id]


async def test_a_seeded_user_logs_in_and_reaches_its_tenants(
    container: Container, client: httpx.AsyncClient
) -> None:
    await _seed(container)
    email = seed_email(7)

    response = await client.post("/v1/auth/login", json={"email": email, "password": SEED_PASSWORD})
    assert response.status_code == 200, response.text
    auth = {"Authorization": f"Bearer {response.json()['access_token']}"}
    me = await client.get("/v1/me", headers=auth)
    assert me.status_code == 200, me.text
    async with container.db.read() as session:
        user = await session.scalar(select(User).where(User.email_key == email))
        assert user is not None
        tenant_ids = list(
            await session.scalars(select(Membership.tenant_id).where(Membership.user_id == user.id))
        )
    assert me.json()["default_tenant_id"] == str(user.default_tenant_id)
    assert len(tenant_ids) == 3  # the personal tenant and two organizations
    for tenant_id in tenant_ids:
        tenant = await client.get("/v1/tenant", headers={**auth, "X-Tenant-ID": str(tenant_id)})
        assert tenant.status_code == 200, tenant.text
        assert tenant.json()["id"] == str(tenant_id)
    stranger = await client.get("/v1/tenant", headers={**auth, "X-Tenant-ID": str(uuid.uuid4())})
    assert stranger.status_code in (403, 404), stranger.text


async def test_a_second_seed_is_refused_and_changes_nothing(container: Container) -> None:
    await _seed(container)

    with pytest.raises(AlreadySeeded):
        await _seed(container, SeedCounts(users=10, organizations=1, memberships=12))

    assert await _totals(container) == (50, 55, 150)


@pytest.mark.parametrize(
    ("users", "organizations", "memberships"),
    [(10, 2, 11), (10, 0, 11), (3, 1, 7), (0, 0, 0)],
)
def test_impossible_counts_are_rejected(users: int, organizations: int, memberships: int) -> None:
    with pytest.raises(ValueError):
        SeedCounts(users, organizations, memberships)


async def _seed_command(settings: Settings) -> subprocess.CompletedProcess[str]:
    counts = ["--users", "20", "--organizations", "2", "--memberships", "40"]
    return await tenantry(settings, "dev", "seed", *counts)


async def test_the_cli_migrates_then_seeds(settings: Settings, container: Container) -> None:
    done = await _seed_command(settings)

    assert done.returncode == 0, done.stderr
    assert "seeded 20 users" in done.stdout
    assert await _totals(container) == (20, 22, 40)
    again = await _seed_command(settings)
    assert again.returncode == 1
    assert "already_seeded" in again.stderr
