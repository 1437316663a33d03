"""The webhook dispatcher's queue SQL (`tenantry.storage.webhook_queue`) against a real
database: each event is claimed for fan-out once, also by concurrent claimers; only the head of
a delivery queue (endpoint and tenant, in event order) is claimable, and only while due and
unleased; concurrent claimers never lease the same head; an attempt's result and retry time are
stored, and settled deliveries are never claimed again."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from tenantry.domain.webhooks.sender import AttemptResult
from tenantry.storage import webhook_queue
from tenantry.storage.database import Database
from tenantry.storage.models import (
    DomainEvent,
    Tenant,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tenantry.storage.webhook_queue import (
    ClaimedEvent,
    LeasedDelivery,
    NewDelivery,
    Settled,
    TenantPlan,
)
from tests.support.databases import connected

pytestmark = pytest.mark.integration

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
LEASE = timedelta(seconds=60)
RETRY_UNTIL = NOW + timedelta(hours=24)
FAILED_503 = AttemptResult(503, 12, "answered 503", None)
DELIVERED = AttemptResult(200, 7, "ok", None)


def seconds(count: float) -> timedelta:
    return timedelta(seconds=count)


async def add(db: Database, *rows: Any) -> None:
    async with db.transaction() as session:
        for row in rows:
            session.add(row)
            await session.flush()  # in order: the rows refer to each other


def tenant(plan: str = "pro", overrides: dict[str, Any] | None = None) -> Tenant:
    return Tenant(
        id=uuid.uuid4(),
        name="Acme",
        kind="organization",
        plan=plan,
        feature_overrides=overrides or {},
        created_at=NOW,
        updated_at=NOW,
    )


def endpoint(
    tenant_id: uuid.UUID | None = None, event_types: list[str] | None = None
) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        url="https://hooks.example.com/in",
        event_types=event_types or ["*"],
        secret_sealed=b"sealed",
        status="active",
        created_at=NOW - timedelta(days=1),
    )


def event(
    created: timedelta = seconds(0),
    position: int = 0,
    tenant_id: uuid.UUID | None = None,
    dispatched_at: datetime | None = None,
) -> DomainEvent:
    return DomainEvent(
        id=uuid.uuid4(),
        type="project.created",
        tenant_id=tenant_id,
        actor_id=None,
        data={"n": position},
        created_at=NOW + created,
        position=position,
        dispatched_at=dispatched_at,
    )


def claimed(row: DomainEvent) -> ClaimedEvent:
    return ClaimedEvent(row.id, row.type, row.tenant_id, row.created_at, row.position)


async def queue(db: Database, target: WebhookEndpoint, *events: DomainEvent) -> list[uuid.UUID]:
    """Deliveries of `events` to `target`, due at NOW; their ids in the order of `events`."""
    await add(db, *events)
    async with db.transaction() as session:
        await webhook_queue.add_deliveries(
            session,
            [NewDelivery(target.id, claimed(row)) for row in events],
            now=NOW,
            retry_until=RETRY_UNTIL,
        )
    by_event = {row.event_id: row.id for row in await all_rows(db, WebhookDelivery)}
    return [by_event[row.id] for row in events]


async def all_rows(db: Database, model: Any) -> list[Any]:
    async with db.read() as session:
        return list(await session.scalars(select(model)))


async def stored(db: Database, delivery_id: uuid.UUID) -> WebhookDelivery:
    async with db.read() as session:
        return await session.get_one(WebhookDelivery, delivery_id)


async def claim_events(db: Database, at: datetime = NOW, limit: int = 10) -> list[ClaimedEvent]:
    async with db.transaction() as session:
        return await webhook_queue.claim_undispatched(session, now=at, limit=limit)


async def lease(db: Database, at: datetime = NOW, limit: int = 50) -> list[LeasedDelivery]:
    async with db.transaction() as session:
        return await webhook_queue.lease_heads(session, now=at, lease_until=at + LEASE, limit=limit)


async def leased_ids(db: Database, at: datetime = NOW, limit: int = 50) -> set[uuid.UUID]:
    return {head.delivery_id for head in await lease(db, at, limit)}


async def record(
    db: Database,
    delivery_id: uuid.UUID,
    result: AttemptResult,
    *,
    settled: Settled | None,
    retry_at: datetime | None = None,
    at: datetime = NOW,
) -> bool:
    async with db.transaction() as session:
        return await webhook_queue.record_attempt(
            session, delivery_id, result, attempts=1, settled=settled, retry_at=retry_at, now=at
        )


# -- fan-out -----------------------------------------------------------------------------------


async def test_fan_out_claims_each_undispatched_event_once_oldest_first(db: Database) -> None:
    later = event(seconds(-1), position=1)
    same_time_first = event(seconds(-1), position=0)
    oldest = event(seconds(-2), position=5)  # positions order only the events of one instant
    await add(db, later, same_time_first, oldest, event(seconds(-9), dispatched_at=NOW))

    first = await claim_events(db, limit=2)
    assert {row.id for row in first} == {oldest.id, same_time_first.id}
    assert await claim_events(db, limit=2) == [claimed(later)]
    assert await claim_events(db, limit=2) == []
    dispatched = {row.id: row.dispatched_at for row in await all_rows(db, DomainEvent)}
    assert dispatched[oldest.id] == dispatched[later.id] == NOW


async def test_concurrent_fan_outs_claim_every_event_exactly_once(
    db: Database, database_url: str
) -> None:
    events = [event(seconds(-number)) for number in range(90)]
    await add(db, *events)
    async with connected(database_url, 3) as claimers:
        rounds = await asyncio.gather(*(claim_events(claimer, limit=30) for claimer in claimers))
    ids = [row.id for batch in rounds for row in batch]
    assert len(ids) == len(set(ids)), "an event was fanned out twice"
    # Each claimer skips the events another holds rather than waiting to find them taken.
    assert set(ids) == {row.id for row in events}


async def test_a_fan_out_skips_the_events_another_is_claiming_rather_than_waiting(
    db: Database, database_url: str
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time: there is no other claim to skip")
    events = [event(seconds(-number)) for number in range(10)]
    await add(db, *events)
    async with connected(database_url, 2) as (first, second), first.transaction() as session:
        held = await webhook_queue.claim_undispatched(session, now=NOW, limit=5)
        async with asyncio.timeout(5):  # waiting for the held ones would never end
            others = await claim_events(second, limit=10)
    assert {row.id for row in held} == {row.id for row in events[5:]}
    assert {row.id for row in others} == {row.id for row in events[:5]}


async def test_subscribers_carry_their_tenants_plan(db: Database) -> None:
    acme = tenant("pro", {"webhooks": False})
    platform, of_acme = endpoint(), endpoint(acme.id, event_types=["project.*"])
    await add(db, acme, platform, of_acme)

    subscribers = {row.id: row for row in await _subscribers(db)}
    assert subscribers[platform.id].tenant is None
    assert subscribers[of_acme.id].tenant == TenantPlan("pro", {"webhooks": False})
    assert subscribers[of_acme.id].tenant_id == acme.id
    assert subscribers[of_acme.id].event_types == ["project.*"]
    assert subscribers[of_acme.id].created_at == of_acme.created_at


async def _subscribers(db: Database) -> list[webhook_queue.Subscriber]:
    async with db.read() as session:
        return await webhook_queue.subscribers(session)


async def test_deliveries_are_written_due_now_and_once_per_endpoint_and_event(
    db: Database,
) -> None:
    target = endpoint()
    await add(db, target)
    source = event(seconds(-5), position=3)
    [delivery_id] = await queue(db, target, source)
    async with db.transaction() as session:  # the same pair again: kept as it is
        await webhook_queue.add_deliveries(
            session,
            [NewDelivery(target.id, claimed(source))],
            now=NOW + seconds(9),
            retry_until=NOW,
        )

    [row] = await all_rows(db, WebhookDelivery)
    assert row.id == delivery_id
    assert (row.status, row.attempts, row.lease_until) == ("pending", 0, None)
    assert (row.next_attempt_at, row.created_at, row.retry_until) == (NOW, NOW, RETRY_UNTIL)
    assert (row.event_created_at, row.event_position) == (source.created_at, 3)
    assert (row.event_type, row.tenant_id) == ("project.created", None)


# -- queue heads -------------------------------------------------------------------------------


async def test_only_the_head_of_a_queue_is_claimed(db: Database) -> None:
    target, other = endpoint(), endpoint()
    await add(db, target, other)
    # Inserted newest first: the queue's order is the events', not the rows'.
    _third, second, first = await queue(
        db, target, event(seconds(-1)), event(seconds(-2), position=1), event(seconds(-2))
    )
    [elsewhere] = await queue(db, other, event(seconds(-1)))

    assert await leased_ids(db) == {first, elsewhere}
    assert await leased_ids(db) == set()  # the heads are leased; who follows them waits
    assert await record(db, first, DELIVERED, settled="delivered")
    assert await leased_ids(db) == {second}


async def test_a_queue_never_overtakes_a_head_waiting_for_its_retry(db: Database) -> None:
    target = endpoint()
    await add(db, target)
    first, second = await queue(db, target, event(seconds(-2)), event(seconds(-1)))
    await lease(db)
    retry_at = NOW + seconds(30)
    assert await record(db, first, FAILED_503, settled=None, retry_at=retry_at)

    assert await leased_ids(db, at=NOW + seconds(29)) == set()  # the follower is due, but waits
    assert await leased_ids(db, at=retry_at) == {first}
    assert second not in await leased_ids(db, at=retry_at + LEASE + seconds(1))


async def test_a_platform_endpoint_has_a_queue_per_tenant(db: Database) -> None:
    target = endpoint()
    acme, globex = tenant(), tenant()
    await add(db, acme, globex, target)
    of_acme, _later = await queue(
        db, target, event(seconds(-3), tenant_id=acme.id), event(seconds(-2), tenant_id=acme.id)
    )
    [of_globex] = await queue(db, target, event(seconds(-1), tenant_id=globex.id))
    assert await leased_ids(db) == {of_acme, of_globex}


async def test_a_leased_head_is_not_claimed_again_until_its_lease_ends(db: Database) -> None:
    target = endpoint()
    await add(db, target)
    [delivery_id] = await queue(db, target, event())
    assert await leased_ids(db) == {delivery_id}
    assert (await stored(db, delivery_id)).lease_until == NOW + LEASE
    assert await leased_ids(db, at=NOW + LEASE / 2) == set()
    assert await leased_ids(db, at=NOW + LEASE) == set()  # held up to its end
    [again] = await lease(db, at=NOW + LEASE + seconds(1))
    assert (again.delivery_id, again.attempts) == (delivery_id, 0)


async def test_heads_not_yet_due_are_not_claimed(db: Database) -> None:
    target = endpoint()
    await add(db, target)
    [delivery_id] = await queue(db, target, event())
    assert await leased_ids(db, at=NOW - seconds(1)) == set()
    assert await leased_ids(db, at=NOW) == {delivery_id}  # due at NOW exactly


async def test_a_claim_takes_at_most_its_batch(db: Database) -> None:
    targets = [endpoint() for _ in range(5)]
    await add(db, *targets)
    for target in targets:
        await queue(db, target, event())
    assert len(await leased_ids(db, limit=3)) == 3
    assert len(await leased_ids(db, limit=3)) == 2


async def test_concurrent_claimers_never_lease_the_same_head(
    db: Database, database_url: str
) -> None:
    targets = [endpoint() for _ in range(40)]
    await add(db, *targets)
    heads = set()
    for target in targets:
        heads.update(await queue(db, target, event(seconds(-1)), event()))
    async with connected(database_url, 4) as claimers:
        for _ in range(3):
            rounds = await asyncio.gather(*(leased_ids(claimer, limit=10) for claimer in claimers))
            ids = [delivery_id for batch in rounds for delivery_id in batch]
            assert len(ids) == len(set(ids)), "a delivery was leased twice"
            assert set(ids) <= heads


async def test_a_leased_head_carries_what_sending_it_needs(db: Database) -> None:
    acme = tenant("starter", {"webhooks": True})
    target = endpoint(acme.id)
    await add(db, acme, target)
    source = event(seconds(-1), position=4, tenant_id=acme.id)
    [delivery_id] = await queue(db, target, source)

    [head] = await lease(db)
    assert head == LeasedDelivery(
        delivery_id=delivery_id,
        attempts=0,
        retry_until=RETRY_UNTIL,
        endpoint_id=target.id,
        endpoint_tenant_id=acme.id,
        tenant=TenantPlan("starter", {"webhooks": True}),
        url="https://hooks.example.com/in",
        secret_sealed=b"sealed",
        event_id=source.id,
        event_type="project.created",
        tenant_id=acme.id,
        data={"n": 4},
        event_created_at=source.created_at,
    )


# -- results -----------------------------------------------------------------------------------


async def test_a_failed_attempt_is_stored_with_its_retry_time(db: Database) -> None:
    target = endpoint()
    await add(db, target)
    [delivery_id] = await queue(db, target, event())
    await lease(db)
    retry_at = NOW + seconds(7)
    assert await record(db, delivery_id, FAILED_503, settled=None, retry_at=retry_at)

    row = await stored(db, delivery_id)
    assert (row.status, row.attempts, row.lease_until, row.settled_at) == ("pending", 1, None, None)
    assert row.next_attempt_at == retry_at
    [attempt] = await all_rows(db, WebhookAttempt)
    assert (attempt.delivery_id, attempt.attempted_at) == (delivery_id, NOW)
    assert (attempt.status_code, attempt.latency_ms) == (503, 12)
    assert (attempt.response_excerpt, attempt.error) == ("answered 503", None)
    assert await leased_ids(db, at=retry_at - seconds(1)) == set()
    assert await leased_ids(db, at=retry_at) == {delivery_id}


@pytest.mark.parametrize("settled", ["delivered", "failed"])
async def test_a_settled_delivery_is_never_claimed_again(db: Database, settled: Settled) -> None:
    target = endpoint()
    await add(db, target)
    first, second = await queue(db, target, event(seconds(-1)), event())
    await lease(db)
    assert await record(db, first, DELIVERED, settled=settled, at=NOW + seconds(1))

    row = await stored(db, first)
    assert (row.status, row.settled_at, row.lease_until) == (settled, NOW + seconds(1), None)
    assert await leased_ids(db, at=NOW + timedelta(days=2)) == {second}
    assert first not in await leased_ids(db, at=NOW + timedelta(days=3))


async def test_deliveries_settled_unsent_say_why_and_are_not_claimed(db: Database) -> None:
    target = endpoint()
    await add(db, target)
    first, second = await queue(db, target, event(seconds(-1)), event())
    await lease(db)
    async with db.transaction() as session:
        await webhook_queue.settle_unsent(session, [first], now=NOW, error="not in plan")

    row = await stored(db, first)
    assert (row.status, row.settled_at, row.lease_until, row.attempts) == ("failed", NOW, None, 0)
    [attempt] = await all_rows(db, WebhookAttempt)
    assert (attempt.delivery_id, attempt.error, attempt.status_code) == (first, "not in plan", None)
    assert await leased_ids(db) == {second}


async def test_the_result_of_a_delivery_gone_meanwhile_is_not_stored(db: Database) -> None:
    target = endpoint()
    await add(db, target)
    [delivery_id] = await queue(db, target, event())
    await lease(db)
    async with db.transaction() as session:
        await session.execute(delete(WebhookEndpoint))  # its deliveries go along
    assert not await record(db, delivery_id, DELIVERED, settled="delivered")
    assert await all_rows(db, WebhookAttempt) == []


async def test_endpoint_health_moves_between_active_and_failing(db: Database) -> None:
    target = endpoint()
    await add(db, target)

    async def health() -> tuple[str, datetime | None]:
        async with db.read() as session:
            row = await session.get_one(WebhookEndpoint, target.id)
            return row.status, row.failing_since

    async with db.transaction() as session:
        await webhook_queue.endpoint_failing(session, target.id, since=NOW)
    async with db.transaction() as session:  # already failing: since when stays
        await webhook_queue.endpoint_failing(session, target.id, since=NOW + seconds(5))
    assert await health() == ("failing", NOW)
    async with db.transaction() as session:
        await webhook_queue.endpoint_recovered(session, target.id)
    assert await health() == ("active", None)
