"""Tenant-scoped units of work on a tenant data store (SPEC §10). Code that runs inside one is
written as if there were a single tenant: it never filters or sets `tenant_id`.

- The ORM scopes every SELECT, UPDATE and DELETE on the tenant data tables to the session's
  tenant (`with_loader_criteria`) and stamps new rows with it before they are flushed.
- On PostgreSQL the transaction also runs as the `tenantry_tenant_data` role with
  `tenantry.tenant_id` set locally, so row-level security (tenant migration t0002) enforces the
  same boundary below the ORM, for raw SQL too.

The same session code serves the pool (the core database's shared tables) and a silo."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import delete, event, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction, with_loader_criteria

from tenantry.storage.database import Store
from tenantry.storage.tenant_models import TenantDataBase, TenantFence, TenantOwned
from tenantry.storage.upsert import insert_on_conflict

TENANT_KEY = "tenantry_tenant_id"
TENANT_DATA_ROLE = "tenantry_tenant_data"
_ENTER_ROLE = text(f"SET LOCAL ROLE {TENANT_DATA_ROLE}")
_SET_TENANT = text("SELECT set_config('tenantry.tenant_id', :tenant, true)")


@asynccontextmanager
async def tenant_session(
    store: Store, tenant_id: uuid.UUID, *, write: bool
) -> AsyncIterator[AsyncSession]:
    """A unit of work on `store` that sees and writes only `tenant_id`'s rows."""
    unit = store.transaction() if write else store.read()
    async with unit as session:
        session.info[TENANT_KEY] = tenant_id
        if store.dialect == "postgresql":
            await enter_tenant(session, tenant_id, restricted=True)
        if write:
            await _refuse_if_fenced(session, tenant_id, locking=store.dialect == "postgresql")
        yield session


class TenantDataMoving(Exception):
    """The tenant's rows are being copied out of this store; writes wait for the move."""


async def _refuse_if_fenced(session: AsyncSession, tenant_id: uuid.UUID, *, locking: bool) -> None:
    """Inside the write transaction: a raised fence refuses it. On PostgreSQL the fence row is
    share-locked, so raising it waits for the writes that passed it (SQLite write transactions
    are one at a time anyway)."""
    query = select(TenantFence.moving).where(TenantFence.tenant_id == tenant_id)
    if await session.scalar(query.with_for_update(read=True) if locking else query):
        raise TenantDataMoving(str(tenant_id))


async def raise_fence(store: Store, tenant_id: uuid.UUID, *, now: datetime) -> None:
    """Stop tenant writes in `store` before its rows are copied out. On PostgreSQL a write
    that checked the fence before its row existed holds no lock on it, so a brief SHARE lock
    on the tenant tables then waits out every write transaction already under way."""
    async with store.transaction() as session:
        await session.execute(
            insert_on_conflict(session, TenantFence)
            .values(tenant_id=tenant_id, moving=True, updated_at=now)
            .on_conflict_do_update(
                index_elements=[TenantFence.tenant_id], set_={"moving": True, "updated_at": now}
            )
        )
    if store.dialect == "postgresql":
        tables = ", ".join(table.name for table in TenantDataBase.metadata.sorted_tables)
        async with store.transaction() as session:
            await session.execute(text(f"LOCK TABLE {tables} IN SHARE MODE"))


async def lower_fence(store: Store, tenant_id: uuid.UUID) -> None:
    async with store.transaction() as session:
        await session.execute(delete(TenantFence).where(TenantFence.tenant_id == tenant_id))


async def enter_tenant(session: AsyncSession, tenant_id: uuid.UUID, *, restricted: bool) -> None:
    """Point PostgreSQL's row-level security at `tenant_id` for the rest of the transaction;
    `restricted` also drops to the role the policies bind (the owner is exempt from them)."""
    if restricted:
        await session.execute(_ENTER_ROLE)
    await session.execute(_SET_TENANT, {"tenant": str(tenant_id)})


@event.listens_for(Session, "do_orm_execute")
def _scope_statements(state: ORMExecuteState) -> None:
    tenant_id = state.session.info.get(TENANT_KEY)
    if tenant_id is None or not (state.is_select or state.is_update or state.is_delete):
        return
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantOwned,
            lambda model: model.tenant_id == tenant_id,
            include_aliases=True,
        )
    )


@event.listens_for(Session, "before_flush")
def _stamp_new_rows(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    tenant_id = session.info.get(TENANT_KEY)
    if tenant_id is None:
        return
    for instance in session.new:
        if isinstance(instance, TenantOwned):
            instance.tenant_id = tenant_id
