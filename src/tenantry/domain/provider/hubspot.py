"""HubSpot payment webhooks (SPEC §8): a delivery signed with HubSpot's signature v3 pays for a
tenant on a plan, owned by the payer's account (created, and mailed an activation code, if
new). Each `eventId` provisions once: its claim row makes raced duplicates wait for the
winner's answer, and a delivered answer is replayed to every later duplicate."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, ValidationError
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.domain.events.outbox import Event, record_events
from tenantry.domain.identity.addresses import normalize_email
from tenantry.domain.identity.toolkit import IdentityToolkit
from tenantry.domain.plans.catalog import Plan, PlanCatalog
from tenantry.domain.provider.owners import add_owner, provision_owner_account
from tenantry.domain.provider.provisioning import Provisioner, ProvisioningFailed, Superseded
from tenantry.errors import Conflict, InvalidInput, MalformedRequest, Unauthenticated, Unavailable
from tenantry.storage.models import HubspotEvent, Tenant
from tenantry.storage.upsert import insert_on_conflict

SIGNATURE_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"
# HubSpot rejects older requests; we also refuse ones from the future (a skewed or forged clock).
MAX_SKEW_MS = 5 * 60 * 1000
# The percent-encodings HubSpot decodes in the URI it signs; every other escape stays as sent.
_SIGNED_DECODED = re.compile(r"%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)", re.IGNORECASE)
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
# A raced duplicate waits this long (polling) for the winner's answer before a Conflict.
ANSWER_WAIT_SECONDS = 10.0
ANSWER_POLL_SECONDS = 0.1
RETRY_AFTER_SECONDS = 5
NAME_LIMIT = 200


def signed_uri(public_url: str, path: str, query: str = "") -> str:
    """The URI as HubSpot signs it: the route's public URL with its query string, the
    characters of HubSpot's table (`%3A` -> `:` and so on) decoded."""
    uri = f"{public_url}{path}?{query}" if query else f"{public_url}{path}"
    return _SIGNED_DECODED.sub(lambda found: chr(int(found.group(1), 16)), uri)


def signature_v3(*, secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """base64(HMAC-SHA256(secret, method + uri + body + timestamp)), over UTF-8."""
    message = method.encode() + uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def verify_signature(
    *,
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    now: datetime,
) -> None:
    """Unauthenticated unless the delivery carries a valid v3 signature made within 5 minutes of
    `now`."""
    if not signature or not timestamp:
        raise Unauthenticated("HubSpot signature headers are missing.", code="missing_signature")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise Unauthenticated("The request timestamp is not valid.", code="invalid_timestamp")
    if abs(now.timestamp() * 1000 - int(timestamp)) > MAX_SKEW_MS:
        raise Unauthenticated("The request timestamp is too far from now.", code="stale_request")
    expected = signature_v3(secret=secret, method=method, uri=uri, body=body, timestamp=timestamp)
    if not hmac.compare_digest(expected.encode(), signature.encode("latin-1", "replace")):
        raise Unauthenticated("The HubSpot signature does not match.", code="invalid_signature")


EventId = StrictInt | Annotated[str, Field(min_length=1, max_length=255)]
OptionalName = Annotated[str, Field(max_length=100)] | None


class PaymentEvent(BaseModel):
    """The payload HubSpot posts; fields we do not use are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)

    event_id: EventId = Field(alias="eventId")
    email: Annotated[str, Field(max_length=320), AfterValidator(normalize_email)]
    plan: Annotated[str, Field(min_length=1, max_length=50)]
    firstname: OptionalName = None
    lastname: OptionalName = None
    company: Annotated[str, Field(max_length=NAME_LIMIT)] | None = None

    @property
    def key(self) -> str:
        return str(self.event_id)

    @property
    def full_name(self) -> str:
        return " ".join(part.strip() for part in (self.firstname, self.lastname) if part).strip()

    @property
    def tenant_name(self) -> str:
        if self.company and self.company.strip():
            return self.company.strip()
        owner = self.full_name or self.email.partition("@")[0]
        return f"{owner}'s team"[:NAME_LIMIT]


def parse_payment(body: bytes) -> PaymentEvent:
    """The payload of a verified delivery: MalformedRequest if it is not JSON, InvalidInput if it is
    not the shape."""
    try:
        return PaymentEvent.model_validate_json(body)
    except ValidationError as error:
        if any(issue["type"] == "json_invalid" for issue in error.errors()):
            raise MalformedRequest("The request body is not valid JSON.") from None
        fields = sorted({".".join(str(part) for part in issue["loc"]) for issue in error.errors()})
        raise InvalidInput(
            f"The payment event is not valid: {', '.join(fields) or 'body'}.",
            code="validation_error",
        ) from None


@dataclass(frozen=True)
class PaymentAnswer:
    user_id: uuid.UUID
    tenant_id: uuid.UUID


class WebhookInProgress(Conflict):
    """Another delivery of the same event is still provisioning; HubSpot retries later."""

    code = "webhook_in_progress"

    def __init__(self) -> None:
        super().__init__("This event is still being processed; retry later.")
        self.retry_after = RETRY_AFTER_SECONDS


@dataclass
class _PaidTenant:
    """The provisioning order of one payment event."""

    event: PaymentEvent
    plan: Plan
    identity: IdentityToolkit

    @property
    def tenant_name(self) -> str:
        return self.event.tenant_name

    @property
    def actor_id(self) -> None:
        return None  # the payment provider, not a user

    async def claim(self, session: AsyncSession, tenant_id: uuid.UUID, now: datetime) -> None:
        claimed = await session.scalar(
            insert_on_conflict(session, HubspotEvent)
            .values(event_id=self.event.key, user_id=None, tenant_id=tenant_id, created_at=now)
            .on_conflict_do_nothing(index_elements=[HubspotEvent.event_id])
            .returning(HubspotEvent.event_id)
        )
        if claimed is None:
            raise Superseded(self.event.key)

    async def finish(self, session: AsyncSession, tenant: Tenant, now: datetime) -> PaymentAnswer:
        user = await provision_owner_account(
            session,
            self.identity,
            email=self.event.email,
            name=self.event.full_name[:NAME_LIMIT],
            tenant_name=tenant.name,
        )
        await add_owner(session, tenant_id=tenant.id, user_id=user.id, now=now, make_default=True)
        await session.execute(
            update(HubspotEvent)
            .where(HubspotEvent.event_id == self.event.key)
            .values(user_id=user.id)
        )
        paid = Event(
            "billing.payment_received",
            tenant.id,
            None,
            {"provider": "hubspot", "event_id": self.event.key, "plan": self.plan.id},
        )
        await record_events(session, [paid], now=now)
        return PaymentAnswer(user.id, tenant.id)

    async def release(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        await _drop_claim(session, self.event.key, tenant_id)


async def _drop_claim(session: AsyncSession, event_id: str, tenant_id: uuid.UUID) -> None:
    """Delete an unanswered claim, only the one made for `tenant_id` (never another run's)."""
    await session.execute(
        delete(HubspotEvent).where(
            HubspotEvent.event_id == event_id,
            HubspotEvent.tenant_id == tenant_id,
            HubspotEvent.user_id.is_(None),
        )
    )


@dataclass(frozen=True)
class Delivery:
    """One POST from HubSpot as received: the signed parts and the raw body."""

    method: str
    uri: str
    body: bytes
    signature: str | None
    timestamp: str | None


class HubspotPayments:
    def __init__(
        self,
        *,
        secret: str | None,
        provisioner: Provisioner,
        plans: PlanCatalog,
        identity: IdentityToolkit,
        clock: Clock,
    ) -> None:
        self._secret = secret
        self._provisioner = provisioner
        self._plans = plans
        self._identity = identity
        self._db = identity.db
        self._clock = clock

    async def receive(self, delivery: Delivery) -> PaymentAnswer:
        """Verify, read and process a delivery: the paid tenant and its owner, once per event."""
        if not self._secret:
            raise Unavailable("HubSpot webhooks are not configured.", code="hubspot_not_configured")
        verify_signature(
            secret=self._secret,
            method=delivery.method,
            uri=delivery.uri,
            body=delivery.body,
            signature=delivery.signature,
            timestamp=delivery.timestamp,
            now=self._clock.now(),
        )
        event = parse_payment(delivery.body)
        order = _PaidTenant(event, self._plans.get(event.plan), self._identity)
        return await self._provision_once(order)

    async def _provision_once(self, order: _PaidTenant) -> PaymentAnswer:
        """The event's answer: replayed, provisioned now, or the raced winner's. A claim left
        by a run that died (its tenant gone, no answer) is taken over once."""
        for _attempt in range(2):
            claim = await self._claim_of(order.event.key)
            if claim is not None and claim.user_id is not None:
                return PaymentAnswer(claim.user_id, claim.tenant_id)
            if claim is None:
                try:
                    _tenant_id, answer = await self._provisioner.provision(order)
                    return answer
                except Superseded:
                    pass
                except ProvisioningFailed as failure:
                    raise Unavailable(
                        f"Provisioning failed ({failure.step}): {failure.reason}",
                        code="provisioning_failed",
                    ) from failure
            winner = await self._await_winner(order.event.key)
            if winner is not None:
                return winner
        raise WebhookInProgress()

    async def _await_winner(self, event_id: str) -> PaymentAnswer | None:
        """The answer of the run holding the claim; None once the claim is gone (released, or
        stale and removed here): the caller may provision itself."""
        deadline = asyncio.get_running_loop().time() + ANSWER_WAIT_SECONDS
        while True:
            claim = await self._claim_of(event_id)
            if claim is None:
                return None
            if claim.user_id is not None:
                return PaymentAnswer(claim.user_id, claim.tenant_id)
            if await self._is_stale(claim):
                async with self._db.transaction() as session:
                    await _drop_claim(session, event_id, claim.tenant_id)
                return None
            if asyncio.get_running_loop().time() >= deadline:
                raise WebhookInProgress()
            await asyncio.sleep(ANSWER_POLL_SECONDS)

    async def _claim_of(self, event_id: str) -> HubspotEvent | None:
        async with self._db.read() as session:
            return await session.get(HubspotEvent, event_id)

    async def _is_stale(self, claim: HubspotEvent) -> bool:
        """An unanswered claim whose reservation no longer exists: its run died."""
        async with self._db.read() as session:
            tenant = await session.scalar(select(Tenant.id).where(Tenant.id == claim.tenant_id))
        return tenant is None
