"""Row counts straight from the database, for tests that prove what was (not) written."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select

from tenantry.storage.database import Database
from tenantry.storage.models import Environment, Membership, Project, Tenant, User

WORKSPACE_MODELS: dict[str, Any] = {
    "users": User,
    "tenants": Tenant,
    "memberships": Membership,
    "projects": Project,
    "environments": Environment,
}
ONE_WORKSPACE = {"users": 1, "tenants": 1, "memberships": 1, "projects": 1, "environments": 2}


async def count_rows(db: Database, model: Any, *where: ColumnElement[bool]) -> int:
    """How many rows of `model` match every condition in `where`."""
    async with db.read() as session:
        count = await session.scalar(select(func.count()).select_from(model).where(*where))
    return int(count or 0)


async def workspace_counts(db: Database) -> dict[str, int]:
    """Rows of every table the onboarding transaction writes to (events aside)."""
    return {name: await count_rows(db, model) for name, model in WORKSPACE_MODELS.items()}
