"""The webhook dispatcher: fans committed outbox events out to the endpoints subscribed to
them, then delivers. Several processes may run it at once:

- fan-out claims undispatched events with `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite has
  one writer at a time) and marks them dispatched in the transaction that writes their
  deliveries, so each event is fanned out once;
- a delivery is attempted only while it heads its queue (its endpoint and tenant, in event
  order) and under a lease taken by a conditional update, so one process sends it at a time
  and a queue never overtakes itself. Delivery is at least once: a process dying after the
  receiver answered but before the result is stored sends it again after the lease.

Failures are retried with exponential backoff and jitter for 24 hours; then the delivery is
marked failed, its endpoint `failing`, and the queue moves on.

An endpoint of a tenant whose plan (or override) lacks `webhooks` gets no new deliveries, and
one queued before the change is settled failed at its turn without being sent (an upgrade
lets its admins redeliver it). Endpoints of no tenant (platform admins') get every event."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.events.catalog import subscribes
from tenantry.domain.events.outbox import on_events_committed
from tenantry.domain.identity.masterkey import SecretBox
from tenantry.domain.plans.catalog import PlanCatalog
from tenantry.domain.webhooks import signing
from tenantry.domain.webhooks.endpoints import RETRY_WINDOW
from tenantry.domain.webhooks.sender import ATTEMPT_SECONDS, AttemptResult, WebhookPoster
from tenantry.storage.database import Database
from tenantry.storage.models import (
    DomainEvent,
    Tenant,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tenantry.storage.upsert import insert_on_conflict

log = structlog.get_logger("tenantry.webhooks")

FAN_OUT_BATCH = 200
DELIVERY_BATCH = 50
LEASE = timedelta(seconds=ATTEMPT_SECONDS + 45)
IDLE_POLL_SECONDS = 1.0
# How long a round waits for its attempts before moving on (slow ones finish on their own).
ROUND_WAIT_SECONDS = 2.0
FIRST_RETRY = timedelta(seconds=5)
MAX_BACKOFF = timedelta(hours=1)
NOT_IN_PLAN = "feature_not_in_plan: the tenant's plan no longer includes webhooks"


def backoff(attempts: int, jitter: float) -> timedelta:
    """The wait after the `attempts`-th failure: 5 s doubling up to an hour, scaled by a
    jitter in [0.5, 1.5) so that receivers coming back are not hit by every sender at once."""
    base: timedelta = min(FIRST_RETRY * 2 ** min(attempts - 1, 20), MAX_BACKOFF)
    return base * (0.5 + jitter)


@dataclass(frozen=True)
class _Claimed:
    delivery_id: uuid.UUID
    attempts: int
    retry_until: datetime
    endpoint_id: uuid.UUID
    url: str
    secret_sealed: bytes
    event_id: uuid.UUID
    event_type: str
    tenant_id: uuid.UUID | None
    data: dict[str, Any]
    event_created_at: datetime


async def _settle_unsent(
    session: AsyncSession, delivery_ids: list[uuid.UUID], now: datetime
) -> None:
    """Settle deliveries of endpoints whose tenant lost `webhooks` as failed, unsent, with an
    attempt that says why; the endpoint's health is left alone."""
    if not delivery_ids:
        return
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(delivery_ids))
        .values(status="failed", settled_at=now, lease_until=None),
        execution_options={"synchronize_session": False},
    )
    await session.execute(
        insert(WebhookAttempt),
        [
            {
                "id": uuid.uuid4(),
                "delivery_id": delivery_id,
                "attempted_at": now,
                "status_code": None,
                "latency_ms": 0,
                "response_excerpt": None,
                "error": NOT_IN_PLAN,
            }
            for delivery_id in delivery_ids
        ],
    )


class WebhookDispatcher:
    def __init__(
        self,
        *,
        db: Database,
        box: SecretBox,
        sender: WebhookPoster,
        clock: Clock,
        plans: PlanCatalog,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._db = db
        self._plans = plans
        self._box = box
        self._sender = sender
        self._clock = clock
        self._jitter = jitter
        self.wake = asyncio.Event()
        self._slow_attempts: set[asyncio.Task[None]] = set()

    async def run_forever(self) -> None:
        unregister = on_events_committed(self.wake.set)
        try:
            while True:
                try:
                    busy = await self.run_once()
                except Exception:  # a database hiccup must not kill the dispatcher
                    log.exception("webhook_dispatch_failed")
                    busy = False
                if not busy:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(IDLE_POLL_SECONDS):
                            await self.wake.wait()
                    self.wake.clear()
        finally:
            unregister()
            # Their leases run out and the deliveries are sent again: at least once.
            for follower in list(self._slow_attempts):
                follower.cancel()

    async def run_once(self) -> bool:
        """Fan out one batch of events and make one attempt at every due queue head;
        True when there may be more to do right away."""
        fanned_out = await self.fan_out()
        attempted = await self.deliver_due()
        return fanned_out == FAN_OUT_BATCH or attempted > 0

    async def fan_out(self) -> int:
        """Turn committed events into deliveries for the endpoints subscribed to them."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            events = await self._claim_events(session, now)
            if not events:
                return 0
            endpoints = [
                endpoint
                for endpoint in (
                    await session.execute(
                        select(
                            WebhookEndpoint.id,
                            WebhookEndpoint.tenant_id,
                            WebhookEndpoint.event_types,
                            WebhookEndpoint.created_at,
                            Tenant.plan,
                            Tenant.feature_overrides,
                        ).outerjoin(Tenant, Tenant.id == WebhookEndpoint.tenant_id)
                    )
                ).all()
                if self._entitled(endpoint.tenant_id, endpoint)
            ]
            rows = [
                {
                    "id": uuid.uuid4(),
                    "endpoint_id": endpoint.id,
                    "event_id": event.id,
                    "tenant_id": event.tenant_id,
                    "event_type": event.type,
                    "event_created_at": event.created_at,
                    "event_position": event.position,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "retry_until": now + RETRY_WINDOW,
                    "created_at": now,
                }
                for event in events
                for endpoint in endpoints
                if endpoint.tenant_id in (None, event.tenant_id)
                and endpoint.created_at <= event.created_at
                and subscribes(endpoint.event_types, event.type)
            ]
            if rows:
                # executemany: SQLAlchemy batches the rows within the driver's parameter limit
                # (one multi-row VALUES would pass 32,767 parameters with 14 endpoints).
                await session.execute(
                    insert_on_conflict(session, WebhookDelivery).on_conflict_do_nothing(
                        index_elements=["endpoint_id", "event_id"]
                    ),
                    rows,
                )
        return len(events)

    def _entitled(self, tenant_id: uuid.UUID | None, tenant: Any) -> bool:
        """Whether an endpoint of `tenant_id` is delivered to: a platform endpoint (no
        tenant), or one of a tenant whose effective features include `webhooks` (`tenant`,
        a row, carries its `plan` and `feature_overrides`; no plan: the tenant is gone)."""
        if tenant_id is None:
            return True
        return tenant.plan is not None and self._plans.has_feature(tenant, "webhooks")

    async def _claim_events(self, session: AsyncSession, now: datetime) -> list[Any]:
        # Ids first, then the update: as one `UPDATE ... WHERE id IN (SELECT ... LIMIT)`
        # PostgreSQL may run the subquery once per row and claim the whole backlog.
        pick = (
            select(DomainEvent.id)
            .where(DomainEvent.dispatched_at.is_(None))
            .order_by(DomainEvent.created_at, DomainEvent.position)
            .limit(FAN_OUT_BATCH)
        )
        if self._db.dialect == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        ids = list(await session.scalars(pick))
        if not ids:
            return []
        claimed = await session.execute(
            update(DomainEvent)
            .where(DomainEvent.id.in_(ids), DomainEvent.dispatched_at.is_(None))
            .values(dispatched_at=now)
            .returning(
                DomainEvent.id,
                DomainEvent.type,
                DomainEvent.tenant_id,
                DomainEvent.created_at,
                DomainEvent.position,
            ),
            execution_options={"synchronize_session": False},
        )
        return list(claimed.all())

    async def deliver_due(self) -> int:
        """One attempt at each queue head that is due; returns how many were attempted.
        The attempts that finish within `ROUND_WAIT_SECONDS` are recorded together; a slow
        one is recorded when it ends, without holding up the next round (its lease keeps
        its queue to it meanwhile)."""
        claimed = await self._claim_heads(self._clock.now())
        if not claimed:
            return 0
        attempts = {asyncio.create_task(self._attempt(delivery)): delivery for delivery in claimed}
        done, slow = await asyncio.wait(attempts, timeout=ROUND_WAIT_SECONDS)
        await self._record_safely([(attempts[task], task.result()) for task in done])
        for task in slow:
            follower = asyncio.create_task(self._record_when_done(task, attempts[task]))
            self._slow_attempts.add(follower)
            follower.add_done_callback(self._slow_attempts.discard)
        return len(claimed)

    async def _record_when_done(
        self, attempt: asyncio.Task[AttemptResult], delivery: _Claimed
    ) -> None:
        await self._record_safely([(delivery, await attempt)])

    async def _record_safely(self, outcomes: list[tuple[_Claimed, AttemptResult]]) -> None:
        if not outcomes:
            return
        try:
            await self._record(outcomes)
        except Exception:
            # The leases run out and the deliveries are sent again: at least once.
            log.exception("webhook_results_not_recorded", deliveries=len(outcomes))

    async def _claim_heads(self, now: datetime) -> list[_Claimed]:
        in_line = (
            select(
                WebhookDelivery.id,
                WebhookDelivery.next_attempt_at,
                WebhookDelivery.lease_until,
                func.row_number()
                .over(
                    partition_by=(WebhookDelivery.endpoint_id, WebhookDelivery.tenant_id),
                    order_by=(
                        WebhookDelivery.event_created_at,
                        WebhookDelivery.event_position,
                        WebhookDelivery.event_id,
                    ),
                )
                .label("place"),
            )
            .where(WebhookDelivery.status == "pending")
            .subquery()
        )
        unleased = or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now)
        due_heads = (
            select(in_line.c.id)
            .where(
                in_line.c.place == 1,
                in_line.c.next_attempt_at <= now,
                or_(in_line.c.lease_until.is_(None), in_line.c.lease_until < now),
            )
            .limit(DELIVERY_BATCH)
        )
        async with self._db.transaction() as session:
            head_ids = list(await session.scalars(due_heads))
            if not head_ids:
                return []
            # The conditions again: another process may have leased or settled one meanwhile.
            leased = (
                await session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id.in_(head_ids),
                        WebhookDelivery.status == "pending",
                        unleased,
                    )
                    .values(lease_until=now + LEASE)
                    .returning(
                        WebhookDelivery.id, WebhookDelivery.attempts, WebhookDelivery.retry_until
                    ),
                    execution_options={"synchronize_session": False},
                )
            ).all()
            if not leased:
                return []
            details = await session.execute(
                select(
                    WebhookDelivery.id,
                    WebhookEndpoint.id.label("endpoint_id"),
                    WebhookEndpoint.url,
                    WebhookEndpoint.secret_sealed,
                    DomainEvent.id.label("event_id"),
                    DomainEvent.type,
                    DomainEvent.tenant_id,
                    DomainEvent.data,
                    DomainEvent.created_at,
                    WebhookEndpoint.tenant_id.label("endpoint_tenant_id"),
                    Tenant.plan,
                    Tenant.feature_overrides,
                )
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .join(DomainEvent, DomainEvent.id == WebhookDelivery.event_id)
                .outerjoin(Tenant, Tenant.id == WebhookEndpoint.tenant_id)
                .where(WebhookDelivery.id.in_([row.id for row in leased]))
            )
            by_id = {row.id: row for row in details}
            stopped = [
                row.id for row in by_id.values() if not self._entitled(row.endpoint_tenant_id, row)
            ]
            await _settle_unsent(session, stopped, now)
            for delivery_id in stopped:
                del by_id[delivery_id]
        return [
            _Claimed(
                delivery_id=lease.id,
                attempts=lease.attempts,
                retry_until=lease.retry_until,
                endpoint_id=by_id[lease.id].endpoint_id,
                url=by_id[lease.id].url,
                secret_sealed=by_id[lease.id].secret_sealed,
                event_id=by_id[lease.id].event_id,
                event_type=by_id[lease.id].type,
                tenant_id=by_id[lease.id].tenant_id,
                data=by_id[lease.id].data,
                event_created_at=by_id[lease.id].created_at,
            )
            for lease in leased
            if lease.id in by_id
        ]

    async def _attempt(self, delivery: _Claimed) -> AttemptResult:
        secret = self._box.decrypt(
            delivery.secret_sealed, context=signing.secret_context(delivery.endpoint_id)
        ).decode()
        body = json.dumps(
            {
                "type": delivery.event_type,
                "timestamp": delivery.event_created_at.isoformat().replace("+00:00", "Z"),
                "tenant_id": str(delivery.tenant_id) if delivery.tenant_id else None,
                "data": delivery.data,
            },
            separators=(",", ":"),
        ).encode()
        headers = signing.headers(
            secret,
            msg_id=signing.message_id(delivery.event_id),
            timestamp=int(self._clock.now().timestamp()),
            body=body,
        )
        return await self._sender.send(delivery.url, headers=headers, body=body)

    async def _record(self, outcomes: list[tuple[_Claimed, AttemptResult]]) -> None:
        """Store a round's results in one transaction (a commit per result was half the
        dispatcher's CPU, docs/benchmarks.md §9)."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            for delivery, result in outcomes:
                await self._record_one(session, delivery, result, now)
        for delivery, result in outcomes:
            if not result.succeeded:
                log.info(
                    "webhook_attempt_failed",
                    delivery_id=str(delivery.delivery_id),
                    status_code=result.status_code,
                    error=result.error,
                )

    async def _record_one(
        self, session: AsyncSession, delivery: _Claimed, result: AttemptResult, now: datetime
    ) -> None:
        attempts = delivery.attempts + 1
        if result.succeeded:
            outcome: dict[str, Any] = {"status": "delivered", "settled_at": now}
        else:
            retry_at = now + backoff(attempts, self._jitter())
            outcome = (
                {"status": "failed", "settled_at": now}
                if retry_at > delivery.retry_until
                else {"next_attempt_at": retry_at}
            )
        updated = await session.scalar(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery.delivery_id)
            .values(attempts=attempts, lease_until=None, **outcome)
            .returning(WebhookDelivery.id)
        )
        if updated is None:  # the endpoint was deleted meanwhile
            return
        await session.execute(
            insert(WebhookAttempt).values(
                id=uuid.uuid4(),
                delivery_id=delivery.delivery_id,
                attempted_at=now,
                status_code=result.status_code,
                latency_ms=result.latency_ms,
                response_excerpt=result.response_excerpt,
                error=result.error,
            )
        )
        await self._update_endpoint_health(session, delivery, outcome, now)

    async def _update_endpoint_health(
        self,
        session: AsyncSession,
        delivery: _Claimed,
        outcome: dict[str, Any],
        now: datetime,
    ) -> None:
        endpoint = WebhookEndpoint.id == delivery.endpoint_id
        if outcome.get("status") == "delivered":
            await session.execute(
                update(WebhookEndpoint)
                .where(endpoint, WebhookEndpoint.status == "failing")
                .values(status="active", failing_since=None)
            )
        elif outcome.get("status") == "failed":
            await session.execute(
                update(WebhookEndpoint)
                .where(endpoint, WebhookEndpoint.status == "active")
                .values(status="failing", failing_since=now)
            )
