"""Reading the audit log (SPEC §9): a tenant's entries for its admins, every entry for platform
admins; filtered, newest first, keyset-paginated over (created_at, id) descending."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import Field
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.accounts.roles import TenantActor
from tenantry.domain.pagination import Page, PageRequest, decode_cursor, make_page
from tenantry.domain.plans.catalog import PlanCatalog
from tenantry.domain.plans.features import require_tenant_feature
from tenantry.domain.readmodel import ReadModel
from tenantry.storage.database import Database
from tenantry.storage.models import AuditEntry


@dataclass(frozen=True)
class AuditQuery:
    """Every given filter must match: `actions` any of them, `since` inclusive, `until`
    exclusive. `tenant_id` only narrows the platform-wide log."""

    actions: tuple[str, ...] = ()
    actor_id: uuid.UUID | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    tenant_id: uuid.UUID | None = None


class AuditEntryView(ReadModel):
    id: uuid.UUID
    action: str = Field(description="`<resource>.<verb>`, e.g. `membership.updated`")
    actor_id: uuid.UUID | None = Field(description="null: anonymous or the system")
    tenant_id: uuid.UUID | None = Field(description="null: the user pool, not a tenant")
    target_type: str | None
    target_id: str | None
    ip: str | None = Field(description="the client, behind trusted proxies; null: no request")
    user_agent: str | None
    request_id: str | None = Field(description="the request's `X-Request-ID`")
    data: dict[str, Any]
    created_at: datetime


class AuditLog:
    """Reads of the audit log, each in a core read transaction of its own."""

    def __init__(self, *, db: Database, plans: PlanCatalog) -> None:
        self._db = db
        self._plans = plans

    async def of_tenant(
        self, *, actor: TenantActor, query: AuditQuery, page: PageRequest
    ) -> Page[AuditEntryView]:
        """The actor's tenant's entries, for its admins and owners, while the tenant has the
        `audit_log` feature (entries are written whatever the plan)."""
        statement = select(AuditEntry).where(AuditEntry.tenant_id == actor.tenant_id)
        async with self._db.read() as session:
            actor.require("admin")
            await require_tenant_feature(
                session, plans=self._plans, tenant_id=actor.tenant_id, feature="audit_log"
            )
            return await _page(session, _filtered(statement, query), page)

    async def of_platform(self, *, query: AuditQuery, page: PageRequest) -> Page[AuditEntryView]:
        """Every tenant's entries and those of no tenant (the user pool), for platform
        admins (the transport checks that)."""
        statement = select(AuditEntry)
        if query.tenant_id is not None:
            statement = statement.where(AuditEntry.tenant_id == query.tenant_id)
        async with self._db.read() as session:
            return await _page(session, _filtered(statement, query), page)


def _filtered(statement: Select[AuditEntry], query: AuditQuery) -> Select[AuditEntry]:
    if query.actions:
        statement = statement.where(AuditEntry.action.in_(query.actions))
    if query.actor_id is not None:
        statement = statement.where(AuditEntry.actor_id == query.actor_id)
    if query.target_id is not None:
        statement = statement.where(AuditEntry.target_id == query.target_id)
    if query.since is not None:
        statement = statement.where(AuditEntry.created_at >= query.since)
    if query.until is not None:
        statement = statement.where(AuditEntry.created_at < query.until)
    return statement


async def _page(
    session: AsyncSession, statement: Select[AuditEntry], page: PageRequest
) -> Page[AuditEntryView]:
    created_at, row_id = AuditEntry.created_at, AuditEntry.id
    if page.cursor:
        before_time, before_id = decode_cursor(page.cursor)
        statement = statement.where(
            or_(created_at < before_time, and_(created_at == before_time, row_id < before_id))
        )
    statement = statement.order_by(created_at.desc(), row_id.desc()).limit(page.limit + 1)
    rows = list(await session.scalars(statement))
    found = make_page(rows, page, key=lambda entry: (entry.created_at, entry.id))
    return found.map(AuditEntryView.model_validate)
