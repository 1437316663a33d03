"""The webhook tables as queues that several dispatcher processes work at once (the policy,
who gets what and when to retry, is `tenantry.domain.webhooks.dispatcher`'s):

- fan-out claims undispatched events with `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite has
  one writer at a time) and a conditional update, so each event is fanned out once; the
  deliveries are written in the same transaction;
- a delivery queue is an endpoint's deliveries of one tenant, in event order, and only its
  head (the oldest pending delivery) is claimable, under a lease taken by a conditional update:
  one process attempts it at a time and a queue never overtakes itself;
- an attempt's result is stored with the delivery's new state (due again, or settled).

The caller owns the transaction; each function here is one step of it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from sqlalchemy import Row, Select, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.storage.models import (
    DomainEvent,
    Tenant,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tenantry.storage.upsert import insert_on_conflict

Settled = Literal["delivered", "failed"]


@dataclass(frozen=True)
class TenantPlan:
    """What an endpoint's tenant is entitled to (a `PlanCatalog.PlannedTenant`)."""

    plan: str
    feature_overrides: dict[str, Any]


@dataclass(frozen=True)
class ClaimedEvent:
    """An event claimed for fan-out."""

    id: uuid.UUID
    type: str
    tenant_id: uuid.UUID | None
    created_at: datetime
    position: int


@dataclass(frozen=True)
class Subscriber:
    """An endpoint; `tenant` is None for a platform endpoint and for one whose tenant is gone."""

    id: uuid.UUID
    tenant_id: uuid.UUID | None
    event_types: list[str]
    created_at: datetime
    tenant: TenantPlan | None


@dataclass(frozen=True)
class NewDelivery:
    endpoint_id: uuid.UUID
    event: ClaimedEvent


@dataclass(frozen=True)
class LeasedDelivery:
    """A queue head leased for one attempt, with what sending it needs."""

    delivery_id: uuid.UUID
    attempts: int
    retry_until: datetime
    endpoint_id: uuid.UUID
    endpoint_tenant_id: uuid.UUID | None
    tenant: TenantPlan | None  # the endpoint's tenant, as for `Subscriber`
    url: str
    secret_sealed: bytes
    event_id: uuid.UUID
    event_type: str
    tenant_id: uuid.UUID | None  # the event's
    data: dict[str, Any]
    event_created_at: datetime


class AttemptFacts(Protocol):
    """What is stored of one attempt (the domain's `AttemptResult`)."""

    @property
    def status_code(self) -> int | None: ...
    @property
    def latency_ms(self) -> int: ...
    @property
    def response_excerpt(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...


def _tenant_plan(row: Row[Any]) -> TenantPlan | None:
    """The plan columns of an endpoint's outer-joined tenant; None when there is no tenant."""
    return None if row.plan is None else TenantPlan(row.plan, row.feature_overrides)


# -- fan-out -----------------------------------------------------------------------------------


async def claim_undispatched(
    session: AsyncSession, *, now: datetime, limit: int
) -> list[ClaimedEvent]:
    """Mark up to `limit` undispatched events dispatched at `now`, oldest first, and return
    them; events another transaction is claiming are skipped (PostgreSQL) or waited for."""
    # Ids first, then the update: as one `UPDATE ... WHERE id IN (SELECT ... LIMIT)`
    # PostgreSQL may run the subquery once per row and claim the whole backlog.
    pick = (
        select(DomainEvent.id)
        .where(DomainEvent.dispatched_at.is_(None))
        .order_by(DomainEvent.created_at, DomainEvent.position)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
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
    return [ClaimedEvent(**row._asdict()) for row in claimed]


async def subscribers(session: AsyncSession) -> list[Subscriber]:
    """Every endpoint, with its tenant's plan."""
    rows = await session.execute(
        select(
            WebhookEndpoint.id,
            WebhookEndpoint.tenant_id,
            WebhookEndpoint.event_types,
            WebhookEndpoint.created_at,
            Tenant.plan,
            Tenant.feature_overrides,
        ).outerjoin(Tenant, Tenant.id == WebhookEndpoint.tenant_id)
    )
    return [
        Subscriber(row.id, row.tenant_id, row.event_types, row.created_at, _tenant_plan(row))
        for row in rows
    ]


async def add_deliveries(
    session: AsyncSession,
    deliveries: Sequence[NewDelivery],
    *,
    now: datetime,
    retry_until: datetime,
) -> None:
    """Queue `deliveries`, due at `now`; one an endpoint already has for its event is kept."""
    if not deliveries:
        return
    rows = [
        {
            "id": uuid.uuid4(),
            "endpoint_id": delivery.endpoint_id,
            "event_id": delivery.event.id,
            "tenant_id": delivery.event.tenant_id,
            "event_type": delivery.event.type,
            "event_created_at": delivery.event.created_at,
            "event_position": delivery.event.position,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "retry_until": retry_until,
            "created_at": now,
        }
        for delivery in deliveries
    ]
    # executemany: SQLAlchemy batches the rows within the driver's parameter limit
    # (one multi-row VALUES would pass 32,767 parameters with 14 endpoints).
    await session.execute(
        insert_on_conflict(session, WebhookDelivery).on_conflict_do_nothing(
            index_elements=["endpoint_id", "event_id"]
        ),
        rows,
    )


# -- delivery ----------------------------------------------------------------------------------


async def lease_heads(
    session: AsyncSession, *, now: datetime, lease_until: datetime, limit: int
) -> list[LeasedDelivery]:
    """Lease up to `limit` queue heads that are due at `now` and not leased."""
    head_ids = list(await session.scalars(_due_heads(now, limit)))
    if not head_ids:
        return []
    # The conditions again: another process may have leased or settled one meanwhile.
    leased = (
        await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id.in_(head_ids),
                WebhookDelivery.status == "pending",
                or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
            )
            .values(lease_until=lease_until)
            .returning(WebhookDelivery.id, WebhookDelivery.attempts, WebhookDelivery.retry_until),
            execution_options={"synchronize_session": False},
        )
    ).all()
    if not leased:
        return []
    details = await _sending_details(session, [lease.id for lease in leased])
    return [
        _leased(lease, details[lease.id])
        for lease in leased
        if lease.id in details  # an endpoint deleted meanwhile took its deliveries along
    ]


def _due_heads(now: datetime, limit: int) -> Select[uuid.UUID]:
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
    return (
        select(in_line.c.id)
        .where(
            in_line.c.place == 1,
            in_line.c.next_attempt_at <= now,
            or_(in_line.c.lease_until.is_(None), in_line.c.lease_until < now),
        )
        .limit(limit)
    )


async def _sending_details(
    session: AsyncSession, delivery_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Row[Any]]:
    rows = await session.execute(
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
        .where(WebhookDelivery.id.in_(delivery_ids))
    )
    return {row.id: row for row in rows}


def _leased(lease: Row[uuid.UUID, int, datetime], details: Row[Any]) -> LeasedDelivery:
    return LeasedDelivery(
        delivery_id=lease.id,
        attempts=lease.attempts,
        retry_until=lease.retry_until,
        endpoint_id=details.endpoint_id,
        endpoint_tenant_id=details.endpoint_tenant_id,
        tenant=_tenant_plan(details),
        url=details.url,
        secret_sealed=details.secret_sealed,
        event_id=details.event_id,
        event_type=details.type,
        tenant_id=details.tenant_id,
        data=details.data,
        event_created_at=details.created_at,
    )


async def settle_unsent(
    session: AsyncSession, delivery_ids: list[uuid.UUID], *, now: datetime, error: str
) -> None:
    """Settle leased deliveries as failed without an attempt at sending, with an attempt row
    that says why (`error`); their endpoints' health is left alone."""
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
                "error": error,
            }
            for delivery_id in delivery_ids
        ],
    )


async def record_attempt(
    session: AsyncSession,
    delivery_id: uuid.UUID,
    facts: AttemptFacts,
    *,
    attempts: int,
    settled: Settled | None,
    retry_at: datetime | None,
    now: datetime,
) -> bool:
    """Store an attempt made at `now` and release the delivery's lease: settled as `settled`,
    or (None) due again at `retry_at`. False, and nothing stored, when the delivery is gone
    (its endpoint was deleted meanwhile)."""
    outcome: dict[str, Any] = (
        {"status": settled, "settled_at": now} if settled else {"next_attempt_at": retry_at}
    )
    updated = await session.scalar(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(attempts=attempts, lease_until=None, **outcome)
        .returning(WebhookDelivery.id)
    )
    if updated is None:
        return False
    await session.execute(
        insert(WebhookAttempt).values(
            id=uuid.uuid4(),
            delivery_id=delivery_id,
            attempted_at=now,
            status_code=facts.status_code,
            latency_ms=facts.latency_ms,
            response_excerpt=facts.response_excerpt,
            error=facts.error,
        )
    )
    return True


async def endpoint_recovered(session: AsyncSession, endpoint_id: uuid.UUID) -> None:
    """A `failing` endpoint becomes `active` again."""
    await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.status == "failing")
        .values(status="active", failing_since=None)
    )


async def endpoint_failing(
    session: AsyncSession, endpoint_id: uuid.UUID, *, since: datetime
) -> None:
    """An `active` endpoint becomes `failing` since `since`."""
    await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.status == "active")
        .values(status="failing", failing_since=since)
    )
