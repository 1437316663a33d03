"""Webhook endpoints (SPEC §9): a tenant's admins subscribe URLs to their tenant's events;
platform admins manage every endpoint and may subscribe one to every tenant's events. The
signing secret is shown once, at creation, and kept sealed with the master key."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.accounts.roles import TenantActor
from tenantry.domain.audit import record_audit
from tenantry.domain.events.catalog import ALL_EVENTS, EVENT_TYPES
from tenantry.domain.idempotency import KeyClaim, StoredResponse, answer_once
from tenantry.domain.identity.masterkey import SecretBox
from tenantry.domain.pagination import Page, PageRequest, make_page, paginate
from tenantry.domain.plans.catalog import PlanCatalog
from tenantry.domain.plans.features import require_tenant_feature
from tenantry.domain.readmodel import ReadModel
from tenantry.domain.webhooks.signing import new_secret, secret_context
from tenantry.domain.webhooks.targets import parse, resolve
from tenantry.errors import InvalidInput, NotFound
from tenantry.storage.database import Database
from tenantry.storage.models import Tenant, WebhookAttempt, WebhookDelivery, WebhookEndpoint

RETRY_WINDOW = timedelta(hours=24)
ATTEMPTS_SHOWN = 20


@dataclass(frozen=True)
class EndpointScope:
    """Whose endpoints the caller manages: one tenant's (`tenant_id`) or, for a platform
    admin, all of them (`tenant_id` None)."""

    actor_id: uuid.UUID
    tenant_id: uuid.UUID | None

    @classmethod
    def of_tenant(cls, actor: TenantActor) -> EndpointScope:
        actor.require("admin")
        return cls(actor.user_id, actor.tenant_id)

    @classmethod
    def platform(cls, admin_id: uuid.UUID) -> EndpointScope:
        return cls(admin_id, None)

    def visible(self) -> ColumnElement[bool]:
        if self.tenant_id is None:
            return true()
        return WebhookEndpoint.tenant_id == self.tenant_id


class EndpointView(ReadModel):
    id: uuid.UUID
    tenant_id: uuid.UUID | None
    url: str
    events: list[str]
    status: str
    failing_since: datetime | None
    created_at: datetime


class CreatedEndpoint(EndpointView):
    secret: str


class AttemptView(ReadModel):
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    response_excerpt: str | None
    error: str | None


class DeliveryView(ReadModel):
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    tenant_id: uuid.UUID | None
    status: str
    attempt_count: int
    next_attempt_at: datetime | None
    created_at: datetime
    settled_at: datetime | None
    attempts: list[AttemptView]


def checked_event_types(requested: list[str]) -> list[str]:
    unknown = sorted(set(requested) - EVENT_TYPES - {ALL_EVENTS})
    if unknown:
        raise InvalidInput(f"Unknown event types: {', '.join(unknown)}.", code="unknown_event_type")
    if not requested:
        raise InvalidInput("Subscribe to at least one event type, or ['*'].")
    return [ALL_EVENTS] if ALL_EVENTS in requested else sorted(set(requested))


class WebhookEndpoints:
    """A tenant's admins use these while the tenant has the `webhooks` feature; deleting an
    endpoint needs no feature. A platform admin's scope (an operator tool) needs none."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        box: SecretBox,
        allow_private: bool,
        plans: PlanCatalog,
        wake_dispatcher: Callable[[], None],
    ) -> None:
        self._db = db
        self._clock = clock
        self._box = box
        self._allow_private = allow_private
        self._plans = plans
        self._wake_dispatcher = wake_dispatcher

    async def _require_feature(self, session: AsyncSession, scope: EndpointScope) -> None:
        if scope.tenant_id is not None:
            await require_tenant_feature(
                session, plans=self._plans, tenant_id=scope.tenant_id, feature="webhooks"
            )

    async def create(
        self,
        *,
        scope: EndpointScope,
        url: str,
        event_types: list[str],
        tenant_id: uuid.UUID | None = None,
        key: KeyClaim[CreatedEndpoint] | None = None,
    ) -> CreatedEndpoint | StoredResponse:
        """A new endpoint of the scope's tenant (a platform admin names one, or none for
        every tenant's events). With an Idempotency-Key, a repeat gets the first answer
        back."""
        # Refused as the deliveries would refuse it, before anything is stored; resolving is
        # network I/O, so outside the transaction.
        await resolve(url, allow_private=self._allow_private)
        async with self._db.transaction() as session:

            async def work() -> CreatedEndpoint:
                return await self._create(session, scope, url, event_types, tenant_id)

            return await answer_once(session, key, work, now=self._clock.now())

    async def _create(
        self,
        session: AsyncSession,
        scope: EndpointScope,
        url: str,
        event_types: list[str],
        tenant_id: uuid.UUID | None,
    ) -> CreatedEndpoint:
        await self._require_feature(session, scope)
        parse(url)
        owner = scope.tenant_id if scope.tenant_id is not None else tenant_id
        if (
            scope.tenant_id is None
            and owner is not None
            and await session.get(Tenant, owner) is None
        ):
            raise InvalidInput("No tenant has this id.", code="unknown_tenant")
        secret = new_secret()
        now = self._clock.now()
        endpoint = WebhookEndpoint(
            id=uuid.uuid4(),
            tenant_id=owner,
            url=url,
            event_types=checked_event_types(event_types),
            status="active",
            created_by=scope.actor_id,
            created_at=now,
        )
        endpoint.secret_sealed = self._box.encrypt(
            secret.encode(), context=secret_context(endpoint.id)
        )
        session.add(endpoint)
        await session.flush()
        await _audit(session, "webhook_endpoint.created", scope, endpoint, now=now)
        return CreatedEndpoint(**_view(endpoint).model_dump(), secret=secret)

    async def list(self, *, scope: EndpointScope, page: PageRequest) -> Page[EndpointView]:
        async with self._db.read() as session:
            await self._require_feature(session, scope)
            statement = paginate(
                select(WebhookEndpoint).where(scope.visible()),
                page,
                created_at=WebhookEndpoint.created_at,
                row_id=WebhookEndpoint.id,
            )
            rows = list(await session.scalars(statement))
        found = make_page(rows, page, key=lambda endpoint: (endpoint.created_at, endpoint.id))
        return Page([_view(endpoint) for endpoint in found.items], found.next_cursor)

    async def get(self, *, scope: EndpointScope, endpoint_id: uuid.UUID) -> EndpointView:
        async with self._db.read() as session:
            await self._require_feature(session, scope)
            return _view(await _endpoint_or_raise(session, scope, endpoint_id))

    async def delete(self, *, scope: EndpointScope, endpoint_id: uuid.UUID) -> EndpointView:
        async with self._db.transaction() as session:
            endpoint = await _endpoint_or_raise(session, scope, endpoint_id)
            await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id))
            await _audit(
                session, "webhook_endpoint.deleted", scope, endpoint, now=self._clock.now()
            )
        return _view(endpoint)

    async def deliveries(
        self, *, scope: EndpointScope, endpoint_id: uuid.UUID, page: PageRequest
    ) -> Page[DeliveryView]:
        """The endpoint's deliveries in event order, each with its latest attempts."""
        async with self._db.read() as session:
            await self._require_feature(session, scope)
            endpoint = await _endpoint_or_raise(session, scope, endpoint_id)
            statement = paginate(
                select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id),
                page,
                created_at=WebhookDelivery.event_created_at,
                row_id=WebhookDelivery.id,
            )
            found = make_page(
                list(await session.scalars(statement)),
                page,
                key=lambda delivery: (delivery.event_created_at, delivery.id),
            )
            attempts = await _attempts_of(session, [delivery.id for delivery in found.items])
        return Page(
            [_delivery_view(delivery, attempts[delivery.id]) for delivery in found.items],
            found.next_cursor,
        )

    async def redeliver(
        self, *, scope: EndpointScope, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
    ) -> DeliveryView:
        """Queue a delivery again now, with a fresh 24 h of retries, and wake the
        dispatcher once that is committed."""
        now = self._clock.now()
        async with self._db.transaction() as session:
            await self._require_feature(session, scope)
            endpoint = await _endpoint_or_raise(session, scope, endpoint_id)
            queued = await _requeue(session, endpoint, delivery_id, now=now)
            await _audit(
                session,
                "webhook_delivery.redelivered",
                scope,
                endpoint,
                now=now,
                data={"delivery_id": str(queued.id), "event_type": queued.event_type},
            )
            attempts = await _attempts_of(session, [queued.id])
        self._wake_dispatcher()
        return _delivery_view(queued, attempts[queued.id])


async def _requeue(
    session: AsyncSession, endpoint: WebhookEndpoint, delivery_id: uuid.UUID, *, now: datetime
) -> WebhookDelivery:
    queued: WebhookDelivery | None = await session.scalar(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint.id)
        .values(
            status="pending",
            next_attempt_at=now,
            retry_until=now + RETRY_WINDOW,
            settled_at=None,
        )
        .returning(WebhookDelivery)
    )
    if queued is None:
        raise NotFound("This endpoint has no such delivery.", code="delivery_not_found")
    return queued


async def _audit(
    session: AsyncSession,
    action: str,
    scope: EndpointScope,
    endpoint: WebhookEndpoint,
    *,
    now: datetime,
    data: dict[str, str] | None = None,
) -> None:
    await record_audit(
        session,
        action=action,
        tenant_id=endpoint.tenant_id,
        actor_id=scope.actor_id,
        target_type="webhook_endpoint",
        target_id=str(endpoint.id),
        data={"url": endpoint.url, **(data or {})},
        now=now,
    )


async def _endpoint_or_raise(
    session: AsyncSession, scope: EndpointScope, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id, scope.visible())
    )
    if endpoint is None:
        raise NotFound("No webhook endpoint has this id.", code="webhook_endpoint_not_found")
    return endpoint


async def _attempts_of(
    session: AsyncSession, delivery_ids: list[uuid.UUID]
) -> defaultdict[uuid.UUID, list[AttemptView]]:
    by_delivery: defaultdict[uuid.UUID, list[AttemptView]] = defaultdict(list)
    if not delivery_ids:
        return by_delivery
    rows = await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.attempted_at.desc())
    )
    for attempt in rows:
        shown = by_delivery[attempt.delivery_id]
        if len(shown) < ATTEMPTS_SHOWN:
            shown.append(
                AttemptView(
                    attempted_at=attempt.attempted_at,
                    status_code=attempt.status_code,
                    latency_ms=attempt.latency_ms,
                    response_excerpt=attempt.response_excerpt,
                    error=attempt.error,
                )
            )
    return by_delivery


def _view(endpoint: WebhookEndpoint) -> EndpointView:
    return EndpointView(
        id=endpoint.id,
        tenant_id=endpoint.tenant_id,
        url=endpoint.url,
        events=list(endpoint.event_types),
        status=endpoint.status,
        failing_since=endpoint.failing_since,
        created_at=endpoint.created_at,
    )


def _delivery_view(delivery: WebhookDelivery, attempts: list[AttemptView]) -> DeliveryView:
    return DeliveryView(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        tenant_id=delivery.tenant_id,
        status=delivery.status,
        attempt_count=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
        created_at=delivery.created_at,
        settled_at=delivery.settled_at,
        attempts=attempts,
    )
