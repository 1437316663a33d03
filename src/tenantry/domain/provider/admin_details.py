"""A tenant as a platform admin sees it (SPEC §8 `GET /v1/admin/tenants/{id}`): its settings,
metadata and feature overrides, the plan's effective features and limits, and its usage."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.plans.catalog import PlanCatalog
from tenantry.domain.readmodel import ReadModel
from tenantry.errors import NotFound
from tenantry.storage.models import Invitation, Membership, Project, Team, Tenant


class Usage(ReadModel):
    used: int
    limit: int | None = Field(description="null: unlimited")


class TenantDetails(ReadModel):
    id: uuid.UUID
    name: str
    kind: str
    plan: str
    status: str
    disabled_reason: str | None
    isolation: str
    profile: dict[str, Any]
    metadata: dict[str, Any]
    feature_overrides: dict[str, bool]
    features: dict[str, bool] = Field(description="the plan's features after the overrides")
    limits: dict[str, int] = Field(description="absent: unlimited")
    members: int
    usage: dict[str, Usage] = Field(
        description="members, projects, teams and pending invitations; pending invitations "
        "take seats, so members and pending invitations share the `members` limit"
    )
    created_at: datetime
    updated_at: datetime


def tenant_not_found() -> NotFound:
    return NotFound("No such tenant.", code="tenant_not_found")


def _count(model: Any, *where: ColumnElement[bool]) -> ColumnElement[int]:
    return select(func.count()).select_from(model).where(*where).scalar_subquery()


async def _usage_counts(
    session: AsyncSession, tenant_id: uuid.UUID, *, now: datetime
) -> dict[str, int]:
    """Members, projects, teams and pending invitations, in one round trip."""
    pending = (
        Invitation.accepted_at.is_(None)
        & Invitation.declined_at.is_(None)
        & Invitation.revoked_at.is_(None)
        & (Invitation.expires_at > now)
    )
    row = (
        await session.execute(
            select(
                _count(Membership, Membership.tenant_id == tenant_id),
                _count(Project, Project.tenant_id == tenant_id),
                _count(Team, Team.tenant_id == tenant_id),
                _count(Invitation, Invitation.tenant_id == tenant_id, pending),
            )
        )
    ).one()
    return dict(zip(("members", "projects", "teams", "pending_invitations"), row, strict=True))


async def read_tenant_details(
    session: AsyncSession, tenant_id: uuid.UUID, *, plans: PlanCatalog, now: datetime
) -> TenantDetails:
    """The tenant with its plan applied and its usage against the plan's limits. Pending
    invitations take seats, so they count against the `members` limit too."""
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise tenant_not_found()
    plan = plans.of_tenant(tenant.plan)
    counts = await _usage_counts(session, tenant_id, now=now)
    limit_of = {"pending_invitations": "members"}
    usage = {
        name: Usage(used=used, limit=plan.limits.get(limit_of.get(name, name)))
        for name, used in counts.items()
    }
    return TenantDetails(
        id=tenant.id,
        name=tenant.name,
        kind=tenant.kind,
        plan=tenant.plan,
        status=tenant.status,
        disabled_reason=tenant.disabled_reason,
        isolation=tenant.isolation,
        profile=dict(tenant.profile),
        metadata=dict(tenant.extra_metadata),
        feature_overrides={key: bool(value) for key, value in tenant.feature_overrides.items()},
        features=plan.features_with(tenant.feature_overrides),
        limits=dict(plan.limits),
        members=counts["members"],
        usage=usage,
        created_at=tenant.created_at,
        updated_at=tenant.updated_at,
    )
