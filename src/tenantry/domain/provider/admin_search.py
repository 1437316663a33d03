"""Finding tenants and users across the whole platform (SPEC §8 `GET /v1/admin/tenants`,
`GET /v1/admin/users`): filtered, keyset-paginated lists for platform admins."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from tenantry.domain.accounts.tenants import TenantBasics
from tenantry.domain.pagination import Page, PageRequest, make_page, paginate
from tenantry.domain.readmodel import ReadModel
from tenantry.storage.models import Membership, Tenant, User


@dataclass(frozen=True)
class TenantQuery:
    """`q`: part of the name (any case) or the exact tenant id; the others match exactly."""

    q: str | None = None
    status: str | None = None
    plan: str | None = None


class TenantListItem(TenantBasics):
    members: int
    created_at: datetime


class UserListItem(ReadModel):
    id: uuid.UUID
    email: str
    name: str
    email_verified: bool
    is_platform_admin: bool
    disabled_at: datetime | None
    memberships: int
    created_at: datetime


def _memberships_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return select(func.count()).select_from(Membership).where(condition).scalar_subquery()


_TENANT_ITEM = select(
    Tenant.id,
    Tenant.name,
    Tenant.kind,
    Tenant.plan,
    Tenant.status,
    Tenant.isolation,
    _memberships_where(Membership.tenant_id == Tenant.id).label("members"),
    Tenant.created_at,
)
_USER_ITEM = select(
    User.id,
    User.email,
    User.name,
    User.email_verified,
    User.is_platform_admin,
    User.disabled_at,
    _memberships_where(Membership.user_id == User.id).label("memberships"),
    User.created_at,
)


def _contains(column: InstrumentedAttribute[str], text: str) -> ColumnElement[bool]:
    """Case-insensitive substring match; `%` and `_` in `text` match only themselves."""
    return func.lower(column).contains(text.lower(), autoescape=True)


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _tenant_conditions(query: TenantQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    text = (query.q or "").strip()
    if text:
        tenant_id = _as_uuid(text)
        by_name = _contains(Tenant.name, text)
        conditions.append(or_(by_name, Tenant.id == tenant_id) if tenant_id else by_name)
    if query.status is not None:
        conditions.append(Tenant.status == query.status)
    if query.plan is not None:
        conditions.append(Tenant.plan == query.plan)
    return conditions


async def search_tenants(
    session: AsyncSession, *, query: TenantQuery, page: PageRequest
) -> Page[TenantListItem]:
    """Every tenant matching `query`, provisioning ones included, oldest first."""
    statement = paginate(
        _TENANT_ITEM.where(*_tenant_conditions(query)),
        page,
        created_at=Tenant.created_at,
        row_id=Tenant.id,
    )
    items = [TenantListItem.model_validate(row) for row in await session.execute(statement)]
    return make_page(items, page, key=lambda item: (item.created_at, item.id))


async def search_users(
    session: AsyncSession, *, q: str | None, page: PageRequest
) -> Page[UserListItem]:
    """Users whose email or name contains `q` (any case), oldest first."""
    text = (q or "").strip()
    conditions = [or_(_contains(User.email, text), _contains(User.name, text))] if text else []
    statement = paginate(
        _USER_ITEM.where(*conditions), page, created_at=User.created_at, row_id=User.id
    )
    items = [UserListItem.model_validate(row) for row in await session.execute(statement)]
    return make_page(items, page, key=lambda item: (item.created_at, item.id))
