"""Moving a tenant to another plan. Within one isolation mode only the plan changes; between
the pool and a silo the tenant's data moves with it (SPEC §8):

1. `copying`: a `store_moves` row records the move; the target is prepared (a new silo, or
   the pool emptied of any earlier partial copy) and the rows are copied and counted. The
   source stays authoritative.
2. `switched`: one core transaction points the tenant at the target, with its new plan.
3. The old copy is deleted (pool rows) or dropped (the silo), and the move row goes.

Interrupted in step 1, the move is abandoned (the target's partial copy removed); interrupted
after step 2, the old copy is removed. Either way no row is lost, and the recovery sweep (or the
next plan change of that tenant) finishes the job."""

from __future__ import annotations

import uuid
from datetime import datetime

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.events.outbox import Event, record_events
from tenantry.domain.plans.catalog import Plan
from tenantry.domain.provider.provisioning import STALLED_AFTER
from tenantry.domain.provider.stores import TenantStores
from tenantry.errors import Conflict, NotFound
from tenantry.faults import Faults
from tenantry.storage.database import Store
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.models import StoreMove, Tenant
from tenantry.storage.tenant_rows import copy_rows, count_rows, delete_rows
from tenantry.storage.tenant_sessions import lower_fence, raise_fence

log = structlog.get_logger("tenantry.plan_changes")


class CopyMismatch(Exception):
    """The target does not hold the rows the source does; the move is abandoned."""


class PlanChanges:
    def __init__(self, *, stores: TenantStores, clock: Clock, faults: Faults) -> None:
        self._stores = stores
        self._db = stores.db
        self._clock = clock
        self._faults = faults

    async def change_plan(
        self, *, tenant_id: uuid.UUID, plan: Plan, actor_id: uuid.UUID | None
    ) -> None:
        """Put the tenant on `plan`, moving its data if the isolation mode changes."""
        async with self._db.transaction() as session:
            tenant = await _locked(session, tenant_id)
            now = self._clock.now()
            unfinished = await session.get(StoreMove, tenant_id)
            if unfinished is None:
                if tenant.isolation == plan.isolation:
                    await _set_plan(session, tenant, plan, actor_id, now=now)
                    return
                source_locator = tenant.silo_locator_sealed
                await bump_access_epoch(session)  # cached placements learn of the move
                session.add(
                    StoreMove(
                        tenant_id=tenant_id,
                        target=plan.isolation,
                        target_plan=plan.id,
                        state="copying",
                        old_silo_locator_sealed=source_locator,
                        created_at=now,
                        updated_at=now,
                    )
                )
            elif unfinished.updated_at > now - STALLED_AFTER:
                raise Conflict(
                    "The tenant's data is moving to another plan; try again shortly.",
                    code="plan_change_in_progress",
                )
        if unfinished is not None:  # an interrupted earlier move: settle it, then start over
            await self.resume(tenant_id)
            await self.change_plan(tenant_id=tenant_id, plan=plan, actor_id=actor_id)
            return
        try:
            target_sealed = await self._copy(tenant_id, plan, source_locator)
        except Exception:
            await self.resume(tenant_id)  # abandons the move: the source was never touched
            raise
        async with self._db.transaction() as session:
            tenant = await _locked(session, tenant_id)
            move = await session.get(StoreMove, tenant_id)
            assert move is not None
            tenant.isolation = plan.isolation
            tenant.silo_locator_sealed = target_sealed
            await _set_plan(session, tenant, plan, actor_id, now=self._clock.now())
            move.state = "switched"
            move.updated_at = self._clock.now()
            self._faults.checkpoint("store_move.switch")
        self._faults.checkpoint("store_move.cleanup")
        await self.resume(tenant_id)

    async def _copy(
        self, tenant_id: uuid.UUID, plan: Plan, source_sealed: bytes | None
    ) -> bytes | None:
        """Copy the tenant's rows into the target store and check them; the target's sealed
        locator (None for the pool)."""
        if plan.isolation == "silo":
            locator = await self._stores.silos.create(tenant_id)
            target: Store = await self._stores.silos.store(locator)
            target_sealed: bytes | None = self._stores.seal(tenant_id, locator)
        else:
            target, target_sealed = self._db, None
        source = await self._source(tenant_id, source_sealed)
        await raise_fence(source, tenant_id, now=self._clock.now())
        await delete_rows(target, tenant_id)  # a partial copy from an interrupted move
        await copy_rows(source, target, tenant_id)
        self._faults.checkpoint("store_move.copy")
        expected, found = await count_rows(source, tenant_id), await count_rows(target, tenant_id)
        if expected != found:
            raise CopyMismatch(f"copied {found}, expected {expected}")
        return target_sealed

    async def _source(self, tenant_id: uuid.UUID, sealed: bytes | None) -> Store:
        if sealed is None:
            return self._db
        return await self._stores.silos.store(self._stores.unseal(tenant_id, sealed))

    async def resume(self, tenant_id: uuid.UUID) -> None:
        """Finish or abandon an unfinished move of `tenant_id`, if there is one."""
        async with self._db.read() as session:
            move = await session.get(StoreMove, tenant_id)
        if move is None:
            return
        leaving_pool = move.target == "silo"
        if move.state == "copying":  # the source is authoritative: remove the partial copy
            if leaving_pool:
                await self._stores.silos.drop(tenant_id)
            else:
                await delete_rows(self._db, tenant_id)
            source = await self._source(tenant_id, move.old_silo_locator_sealed)
            await lower_fence(source, tenant_id)
        elif leaving_pool:  # switched: remove the old copy, its fence stays up
            await delete_rows(self._db, tenant_id, keep_fence=True)
        else:
            await self._stores.silos.drop(tenant_id)
        async with self._db.transaction() as session:
            await session.execute(delete(StoreMove).where(StoreMove.tenant_id == tenant_id))
            await bump_access_epoch(session)
        log.info("store_move_resumed", tenant_id=str(tenant_id), state=move.state)

    async def resume_all(self) -> int:
        """The recovery sweep: finish or abandon every move whose run died; how many."""
        cutoff = self._clock.now() - STALLED_AFTER
        async with self._db.read() as session:
            pending = list(
                await session.scalars(
                    select(StoreMove.tenant_id).where(StoreMove.updated_at < cutoff)
                )
            )
        for tenant_id in pending:
            await self.resume(tenant_id)
        return len(pending)

    async def moving(self, tenant_id: uuid.UUID) -> bool:
        """True while the tenant's data is being copied (writes to it must wait)."""
        async with self._db.read() as session:
            return await session.get(StoreMove, tenant_id) is not None


async def _locked(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    tenant = await session.scalar(select(Tenant).where(Tenant.id == tenant_id).with_for_update())
    if tenant is None:
        raise NotFound("No such tenant.", code="tenant_not_found")
    if tenant.status == "provisioning":
        raise Conflict("The tenant is still being provisioned.", code="tenant_provisioning")
    return tenant


async def _set_plan(
    session: AsyncSession,
    tenant: Tenant,
    plan: Plan,
    actor_id: uuid.UUID | None,
    *,
    now: datetime,
) -> None:
    changed = {"plan": plan.id, "previous_plan": tenant.plan, "isolation": plan.isolation}
    tenant.plan = plan.id
    tenant.updated_at = now
    event = Event("tenant.updated", tenant.id, actor_id, changed)
    await record_events(session, [event], now=now)
    await bump_access_epoch(session)
