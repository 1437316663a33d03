"""The webhook dispatcher: fans committed outbox events out to the endpoints subscribed to
them, then delivers. Several processes may run it at once:

- fan-out claims undispatched events with `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite has
  one writer at a time) and marks them dispatched in the transaction that writes their
  deliveries, so each event is fanned out once;
- a delivery is attempted only while it heads its queue (its endpoint and tenant, in event
  order) and under a lease taken by a conditional update, so one process sends it at a time
  and a queue never overtakes itself. Delivery is at least once: a process dying after the
  receiver answered but before the result is stored sends it again after the lease.

The SQL of both queues is `tenantry.storage.webhook_queue`'s; the HTTP attempt is a
`WebhookPoster`'s (`tenantry.adapters.webhook_http`).

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
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.events.catalog import subscribes
from tenantry.domain.events.outbox import on_events_committed
from tenantry.domain.identity.masterkey import SecretBox
from tenantry.domain.plans.catalog import PlanCatalog
from tenantry.domain.webhooks import signing
from tenantry.domain.webhooks.endpoints import RETRY_WINDOW
from tenantry.domain.webhooks.sender import ATTEMPT_SECONDS, AttemptResult, WebhookPoster
from tenantry.storage import webhook_queue
from tenantry.storage.database import Database
from tenantry.storage.webhook_queue import (
    ClaimedEvent,
    LeasedDelivery,
    NewDelivery,
    Settled,
    Subscriber,
    TenantPlan,
)

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
            events = await webhook_queue.claim_undispatched(session, now=now, limit=FAN_OUT_BATCH)
            if not events:
                return 0
            endpoints = [
                endpoint
                for endpoint in await webhook_queue.subscribers(session)
                if self._entitled(endpoint.tenant_id, endpoint.tenant)
            ]
            deliveries = [
                NewDelivery(endpoint_id=endpoint.id, event=event)
                for event in events
                for endpoint in endpoints
                if _receives(endpoint, event)
            ]
            await webhook_queue.add_deliveries(
                session, deliveries, now=now, retry_until=now + RETRY_WINDOW
            )
        return len(events)

    def _entitled(self, tenant_id: uuid.UUID | None, tenant: TenantPlan | None) -> bool:
        """Whether an endpoint of `tenant_id` is delivered to: a platform endpoint (no
        tenant), or one of a tenant whose effective features include `webhooks` (no `tenant`
        plan: the tenant is gone)."""
        if tenant_id is None:
            return True
        return tenant is not None and self._plans.has_feature(tenant, "webhooks")

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
        self, attempt: asyncio.Task[AttemptResult], delivery: LeasedDelivery
    ) -> None:
        await self._record_safely([(delivery, await attempt)])

    async def _record_safely(self, outcomes: list[tuple[LeasedDelivery, AttemptResult]]) -> None:
        if not outcomes:
            return
        try:
            await self._record(outcomes)
        except Exception:
            # The leases run out and the deliveries are sent again: at least once.
            log.exception("webhook_results_not_recorded", deliveries=len(outcomes))

    async def _claim_heads(self, now: datetime) -> list[LeasedDelivery]:
        """Lease the due queue heads; those of tenants that lost `webhooks` are settled
        unsent at once rather than handed out."""
        async with self._db.transaction() as session:
            leased = await webhook_queue.lease_heads(
                session, now=now, lease_until=now + LEASE, limit=DELIVERY_BATCH
            )
            entitled = {
                head.delivery_id: self._entitled(head.endpoint_tenant_id, head.tenant)
                for head in leased
            }
            stopped = [delivery_id for delivery_id, sent in entitled.items() if not sent]
            await webhook_queue.settle_unsent(session, stopped, now=now, error=NOT_IN_PLAN)
        return [head for head in leased if entitled[head.delivery_id]]

    async def _attempt(self, delivery: LeasedDelivery) -> AttemptResult:
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

    async def _record(self, outcomes: list[tuple[LeasedDelivery, AttemptResult]]) -> None:
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
        self,
        session: AsyncSession,
        delivery: LeasedDelivery,
        result: AttemptResult,
        now: datetime,
    ) -> None:
        attempts = delivery.attempts + 1
        settled, retry_at = self._next_step(delivery, attempts, result, now)
        stored = await webhook_queue.record_attempt(
            session,
            delivery.delivery_id,
            result,
            attempts=attempts,
            settled=settled,
            retry_at=retry_at,
            now=now,
        )
        if not stored:  # the endpoint was deleted meanwhile
            return
        if settled == "delivered":
            await webhook_queue.endpoint_recovered(session, delivery.endpoint_id)
        elif settled == "failed":
            await webhook_queue.endpoint_failing(session, delivery.endpoint_id, since=now)

    def _next_step(
        self, delivery: LeasedDelivery, attempts: int, result: AttemptResult, now: datetime
    ) -> tuple[Settled | None, datetime | None]:
        """Settled delivered or failed, or (None) the time of the next attempt: within the
        delivery's retry window, after a backoff."""
        if result.succeeded:
            return "delivered", None
        retry_at = now + backoff(attempts, self._jitter())
        return ("failed", None) if retry_at > delivery.retry_until else (None, retry_at)


def _receives(endpoint: Subscriber, event: ClaimedEvent) -> bool:
    """Whether `endpoint` gets `event`: one of its tenant's (every tenant's for a platform
    endpoint), of a type it subscribes to, and not older than the endpoint."""
    return (
        endpoint.tenant_id in (None, event.tenant_id)
        and endpoint.created_at <= event.created_at
        and subscribes(endpoint.event_types, event.type)
    )
