"""Provisioning a tenant on a plan (SPEC §8): the steps shared by self-service registration,
tenants created by a platform admin and tenants paid for through HubSpot.

1. `reserve`: the tenant row, status `provisioning`, committed first. It is the record that
   lets a crash in a later step be cleaned up (the recovery sweep looks for old reservations).
   The caller's claim (its registration, its webhook event) is taken in the same transaction,
   so a raced duplicate stops here.
2. `store`: silo plans get their database, migrated, its locator sealed onto the tenant row.
3. `activate`: in one transaction the tenant goes `active` with the caller's rows (owner
   membership, default tenant, answers) and events.

A failing step undoes the ones before it: the silo dropped, the reservation and the caller's
claim deleted. Nothing half-provisioned remains."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Generic, Protocol, TypeVar, cast

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.accounts.tenants import new_organization
from tenantry.domain.accounts.users import fall_back_to_personal_tenant
from tenantry.domain.events.outbox import Event, record_events
from tenantry.domain.plans.catalog import Plan
from tenantry.domain.provider.stores import TenantStores
from tenantry.domain.saga import Step, StepFailed, run_steps, undo_steps
from tenantry.errors import DomainError
from tenantry.faults import Faults
from tenantry.storage.epoch import bump_access_epoch
from tenantry.storage.models import Tenant

T_co = TypeVar("T_co", covariant=True)
T = TypeVar("T")
log = structlog.get_logger("tenantry.provisioning")
SAGA = "provisioning"
# A reservation older than this belongs to a run that died; the sweep undoes it.
STALLED_AFTER = timedelta(minutes=15)


class Superseded(Exception):
    """The caller's claim is already taken: a duplicate of work done (or being done)."""


class ProvisioningFailed(Exception):
    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"{step} failed: {reason}")
        self.step = step
        self.reason = reason


class Order(Protocol[T_co]):
    """What a caller provisions a tenant for, and its part in each step's transaction."""

    @property
    def tenant_name(self) -> str: ...

    @property
    def plan(self) -> Plan: ...

    @property
    def actor_id(self) -> uuid.UUID | None:
        """Who asked for the tenant (a platform admin, the registrant); None for a payment."""

    async def claim(self, session: AsyncSession, tenant_id: uuid.UUID, now: datetime) -> None:
        """Take the caller's claim (raise Superseded if taken) in the reservation."""

    async def finish(self, session: AsyncSession, tenant: Tenant, now: datetime) -> T_co:
        """The caller's rows in the activating transaction; returns its answer."""

    async def release(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        """Give the claim back, in the transaction that deletes the reservation."""


@dataclass
class _Run(Generic[T]):
    order: Order[T]
    tenant_id: uuid.UUID
    result: T | None = None


class Provisioner:
    def __init__(self, *, stores: TenantStores, clock: Clock, faults: Faults) -> None:
        self._stores = stores
        self._db = stores.db
        self._clock = clock
        self._faults = faults

    async def provision(self, order: Order[T]) -> tuple[uuid.UUID, T]:
        """Provision a tenant for `order`; its id and the order's answer. Raises Superseded or
        ProvisioningFailed (after undoing every step)."""
        run: _Run[T] = _Run(order, uuid.uuid4())
        steps = [
            Step("reserve", lambda: self._reserve(run), lambda: self._unreserve(run)),
            Step("store", lambda: self._make_store(run), lambda: self._drop_store(run)),
            Step("activate", lambda: self._activate(run), _nothing),
        ]
        try:
            await run_steps(SAGA, steps, faults=self._faults)
        except StepFailed as failure:
            if isinstance(failure.cause, Superseded):
                raise failure.cause from None
            log.warning(
                "provisioning_failed",
                step=failure.step,
                undone=failure.undone,
                error=repr(failure.cause),
            )
            raise ProvisioningFailed(failure.step, _reason(failure.cause)) from failure.cause
        return run.tenant_id, cast(T, run.result)  # set by the activate step

    async def _reserve(self, run: _Run[T]) -> None:
        now = self._clock.now()
        async with self._db.transaction() as session:
            session.add(
                new_organization(
                    tenant_id=run.tenant_id,
                    name=run.order.tenant_name,
                    plan=run.order.plan.id,
                    status="provisioning",
                    isolation=run.order.plan.isolation,
                    now=now,
                )
            )
            await session.flush()  # the claim may point at the tenant
            await run.order.claim(session, run.tenant_id, now)

    async def _unreserve(self, run: _Run[T]) -> None:
        async with self._db.transaction() as session:
            await run.order.release(session, run.tenant_id)
            await discard_reservation(session, run.tenant_id)

    async def _make_store(self, run: _Run[T]) -> None:
        if run.order.plan.isolation != "silo":
            return
        locator = await self._stores.silos.create(run.tenant_id)
        async with self._db.transaction() as session:
            tenant = await session.get(Tenant, run.tenant_id)
            assert tenant is not None
            tenant.silo_locator_sealed = self._stores.seal(run.tenant_id, locator)

    async def _drop_store(self, run: _Run[T]) -> None:
        if run.order.plan.isolation == "silo" and await self._still_reserved(run.tenant_id):
            await self._stores.silos.drop(run.tenant_id)

    async def _still_reserved(self, tenant_id: uuid.UUID) -> bool:
        """Never drop the silo of a tenant that went live (or of another run's tenant)."""
        async with self._db.read() as session:
            status = await session.scalar(select(Tenant.status).where(Tenant.id == tenant_id))
        return status in (None, "provisioning")

    async def _activate(self, run: _Run[T]) -> None:
        now = self._clock.now()
        async with self._db.transaction() as session:
            tenant = await session.scalar(
                select(Tenant).where(Tenant.id == run.tenant_id).with_for_update()
            )
            assert tenant is not None
            tenant.status = "active"
            tenant.updated_at = now
            created = Event(
                "tenant.created",
                tenant.id,
                run.order.actor_id,
                {"tenant_id": str(tenant.id), "kind": "organization", "plan": tenant.plan},
            )
            await record_events(session, [created], now=now)
            run.result = await run.order.finish(session, tenant, now)
            await bump_access_epoch(session)
            # Inside the transaction: a failure here must roll the activation back.
            self._faults.checkpoint(f"{SAGA}.activate")

    async def recover_stalled(self) -> int:
        """Undo reservations whose run died (crash, lost connection mid-undo); how many."""
        cutoff = self._clock.now() - STALLED_AFTER
        async with self._db.read() as session:
            stalled = list(
                await session.scalars(
                    select(Tenant.id).where(
                        Tenant.status == "provisioning", Tenant.created_at < cutoff
                    )
                )
            )
        for tenant_id in stalled:
            steps = [
                Step("reserve", _nothing, partial(self._discard, tenant_id)),
                Step("store", _nothing, partial(self._drop_silo_of_reserved, tenant_id)),
            ]
            await undo_steps(SAGA, steps)
        return len(stalled)

    async def _discard(self, tenant_id: uuid.UUID) -> None:
        async with self._db.transaction() as session:
            await discard_reservation(session, tenant_id)

    async def _drop_silo_of_reserved(self, tenant_id: uuid.UUID) -> None:
        if await self._still_reserved(tenant_id):
            await self._stores.silos.drop(tenant_id)


async def discard_reservation(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Delete a tenant that never went live (its claims and rows go with it)."""
    await fall_back_to_personal_tenant(session, tenant_id=tenant_id)
    await session.execute(
        delete(Tenant).where(Tenant.id == tenant_id, Tenant.status == "provisioning")
    )


async def _nothing() -> None:
    return None


def _reason(error: BaseException) -> str:
    """What the caller may be told: a domain error's own message; anything else (a database
    error quotes its SQL and parameters) only by reference to the server's log."""
    if isinstance(error, DomainError):
        return error.detail[:500]
    return "an unexpected error, logged by the server"
