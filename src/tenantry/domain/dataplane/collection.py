"""Collection (SPEC §10): events that browsers and apps send with an environment's public client
key, stored in the environment's tenant's store and listed per environment."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.accounts.environments import get_environment_or_raise
from tenantry.domain.accounts.roles import TenantActor
from tenantry.domain.caching import CachedReader
from tenantry.domain.dataplane.event_writer import EventWriter
from tenantry.domain.dataplane.units import TenantData
from tenantry.domain.pagination import Page, PageRequest, decode_cursor, make_page
from tenantry.domain.plans.catalog import PlanCatalog
from tenantry.domain.readmodel import ReadModel
from tenantry.errors import Throttled, Unauthenticated
from tenantry.storage.database import Database
from tenantry.storage.models import Environment, Tenant
from tenantry.storage.tenant_models import CollectedEvent

MAX_TRACKED_KEYS = 50_000


# A collected event, as its environment's list shows it.
class EventView(ReadModel):
    id: uuid.UUID
    project_id: uuid.UUID
    environment_id: uuid.UUID
    experiment_id: uuid.UUID | None
    type: str
    data: dict[str, Any]
    received_at: datetime


@dataclass(frozen=True)
class KeyOwner:
    """What a client key stands for: an environment of a project of a tenant, with the
    tenant's plan and feature overrides (changing either bumps the epoch)."""

    tenant_id: uuid.UUID
    project_id: uuid.UUID
    environment_id: uuid.UUID
    plan: str
    feature_overrides: dict[str, Any]


async def _read_key_owner(session: AsyncSession, client_key: str) -> KeyOwner | None:
    row = (
        await session.execute(
            select(
                Environment.tenant_id,
                Environment.project_id,
                Environment.id,
                Tenant.plan,
                Tenant.feature_overrides,
            )
            .join(Tenant, Tenant.id == Environment.tenant_id)
            # A disabled tenant's keys stop working with it (disabling bumps the epoch).
            .where(Environment.client_key == client_key, Tenant.status == "active")
        )
    ).one_or_none()
    return None if row is None else KeyOwner(*row)


class TokenBuckets:
    """A token bucket per client key: `rate` events a second, `burst` at once. The buckets live
    in this process, so the limit holds per worker process (N workers admit up to N times it).
    Not `limits`: it has windows, no bucket (after a burst a key waits out the whole window,
    and Retry-After says so); nor `aiolimiter`, whose wait, needed for Retry-After, is private."""

    def __init__(self, *, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, *, now: float | None = None) -> None:
        """Spend a token of `key`'s bucket, or raise Throttled `rate_limited` with the wait."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if len(self._buckets) >= MAX_TRACKED_KEYS:
            self._buckets.pop(next(iter(self._buckets)))
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            raise Throttled(
                "Too many events for this client key; slow down.",
                retry_after=int((1 - tokens) / self._rate) + 1,
                code="rate_limited",
            )
        self._buckets[key] = (tokens - 1, now)


class Collector:
    """Accepts events for client keys: resolves the key (cached until the access epoch moves,
    which rotating or deleting a key does), applies the key's rate limit, stores the event."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        tenant_data: TenantData,
        plans: PlanCatalog,
        limits: TokenBuckets,
    ) -> None:
        self._db = db
        self._clock = clock
        self._tenant_data = tenant_data
        self._owners: CachedReader[str, KeyOwner | None] = CachedReader(db, _read_key_owner)
        self._plans = plans
        self._limits = limits
        self.writer = EventWriter(tenant_data.store_of)

    async def owner_of(self, client_key: str) -> KeyOwner:
        owner = await self._owners.get(client_key) if client_key else None
        if owner is None:
            raise Unauthenticated(
                "Send an environment's client key in X-Client-Key.", code="invalid_client_key"
            )
        return owner

    async def collect(
        self,
        *,
        client_key: str,
        type: str,
        data: dict[str, Any],
        experiment_id: uuid.UUID | None,
    ) -> uuid.UUID:
        """Store one event; returns its id once it is committed. An event of an experiment
        needs the tenant's `experiments` feature."""
        owner = await self.owner_of(client_key)
        if experiment_id is not None:
            self._plans.require_feature(owner, "experiments")
        self._limits.take(client_key)
        event_id = uuid.uuid4()
        row = {
            "id": event_id,
            "project_id": owner.project_id,
            "environment_id": owner.environment_id,
            "experiment_id": experiment_id,
            "type": type,
            "data": data,
            "received_at": self._clock.now(),
        }
        await self.writer.write(owner.tenant_id, row)
        return event_id

    async def events(
        self,
        *,
        actor: TenantActor,
        project_id: uuid.UUID,
        environment_id: uuid.UUID,
        page: PageRequest,
    ) -> Page[EventView]:
        """The environment's events, newest first, read from the tenant's own store once the
        core database has the environment in the actor's tenant."""
        async with self._db.read() as session:
            await get_environment_or_raise(
                session, actor=actor, project_id=project_id, environment_id=environment_id
            )
        async with self._tenant_data.unit(actor.tenant_id, write=False) as session:
            found = await _events(session, environment_id, page)
        return found.map(EventView.model_validate)


async def _events(
    session: AsyncSession, environment_id: uuid.UUID, page: PageRequest
) -> Page[CollectedEvent]:
    statement = select(CollectedEvent).where(CollectedEvent.environment_id == environment_id)
    if page.cursor:
        before_time, before_id = decode_cursor(page.cursor)
        statement = statement.where(
            or_(
                CollectedEvent.received_at < before_time,
                and_(CollectedEvent.received_at == before_time, CollectedEvent.id < before_id),
            )
        )
    statement = statement.order_by(
        CollectedEvent.received_at.desc(), CollectedEvent.id.desc()
    ).limit(page.limit + 1)
    rows = list(await session.scalars(statement))
    return make_page(rows, page, key=lambda event: (event.received_at, event.id))
