"""The `tenantry` command, run as a real process against both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tenantry.bootstrap import Container
from tenantry.settings import Settings
from tenantry.storage.models import Membership, SigningKey, User
from tests.support.cli import tenantry
from tests.support.counts import count_rows

pytestmark = pytest.mark.integration


async def test_db_upgrade_is_idempotent(settings: Settings) -> None:
    for _ in range(2):
        result = await tenantry(settings, "db", "upgrade")
        assert result.returncode == 0, result.stderr
        assert "up to date" in result.stdout


async def test_admin_create_makes_a_confirmed_admin_with_a_workspace(
    settings: Settings, container: Container
) -> None:
    created = await tenantry(
        settings,
        "admin",
        "create",
        "--email",
        "Op@Example.com",
        "--password",
        "operator password 1",
    )
    again = await tenantry(
        settings,
        "admin",
        "create",
        "--email",
        "op@example.com",
        "--password",
        "operator password 2",
    )
    assert created.returncode == 0, created.stderr
    assert again.returncode == 0, again.stderr
    async with container.db.read() as session:
        users = list(await session.scalars(select(User)))
        roles = list(await session.scalars(select(Membership.role)))
    assert len(users) == 1
    assert (users[0].is_platform_admin, users[0].email_verified) == (True, True)
    assert roles == ["owner"]
    assert await container.passwords.verify(users[0].password_hash, "operator password 2")


async def test_admin_create_refuses_a_weak_password(settings: Settings) -> None:
    result = await tenantry(
        settings, "admin", "create", "--email", "op@example.com", "--password", "short"
    )
    assert result.returncode == 1
    assert "weak_password" in result.stderr


async def test_admin_create_refuses_what_the_api_would_refuse_as_an_email(
    settings: Settings, container: Container
) -> None:
    result = await tenantry(
        settings, "admin", "create", "--email", "notanemail", "--password", "operator password 1"
    )
    assert result.returncode == 2
    assert "--email" in result.stderr
    assert await count_rows(container.db, User) == 0


async def test_keys_rotate_keeps_the_old_key_published(
    settings: Settings, container: Container
) -> None:
    before = container.keys.current().kid
    result = await tenantry(settings, "keys", "rotate")
    assert result.returncode == 0, result.stderr
    await container.keys.reload()
    assert container.keys.current().kid != before
    published = {key["kid"] for key in container.keys.jwks()["keys"]}
    assert {before, container.keys.current().kid} <= published
    async with container.db.read() as session:
        retired = await session.scalar(
            select(SigningKey.retired_at).where(SigningKey.kid == before)
        )
    assert retired is not None
