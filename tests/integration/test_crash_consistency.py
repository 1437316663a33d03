"""Crash consistency (catalogue case 40): a real server under concurrent onboarding,
registration, invitation and HubSpot load is SIGKILLed at random moments and restarted, its
clients retrying like real ones; once the work is done and the outboxes drained, the database
must hold every acknowledged write once, no half-made account or tenant, and every committed
mail and event must have been delivered (at least once, a repeat being the same outbox row)."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

import httpx
import pytest
from sqlalchemy import func, select

from tenantry.bootstrap import Container
from tenantry.domain.provider.admins import ensure_platform_admin
from tenantry.domain.provider.provisioning import STALLED_AFTER
from tenantry.settings import Settings
from tenantry.storage.database import Database
from tenantry.storage.models import DomainEvent, MailMessage, WebhookDelivery
from tests.support import invariants
from tests.support.api import bearer
from tests.support.clock import ShiftableClock
from tests.support.journeys import (
    Api,
    GaveUp,
    HubspotPayment,
    Ledger,
    Onboarding,
    SelfServiceRegistration,
)
from tests.support.mailbox import Mailbox
from tests.support.receiver import Receiver
from tests.support.server import KillableServer

pytestmark = [pytest.mark.integration, pytest.mark.catalogue(40)]

KILLS = 22
# Seconds between a restart and the next kill: short, so that kills land mid-request,
# mid-provisioning and mid-send.
KILL_DELAY = (0.2, 1.2)
LANES = {"onboarding": 3, "registration": 2, "payment": 2}
SECRET = "hubspot-crash-secret"
OPERATOR = {"email": "operator@example.com", "password": "the keeper of keys 12345"}
# Past every lease a killed worker held (mail 160 s, webhooks 60 s) and past the age at
# which the recovery sweep undoes a dead run's reservation.
LATER = STALLED_AFTER + timedelta(minutes=5)
DRAIN_SECONDS = 60.0


class Journey(Protocol):
    async def run(self, api: Api, mailbox: Mailbox) -> None: ...


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "hubspot_client_secret": SECRET,
            "webhook_allow_private": True,
            # retrying clients ask for codes again after each kill: not what is tested here
            "address_mail_limit": 1000,
            "address_mail_total_limit": 1000,
        }
    )


@pytest.fixture
def server(settings: Settings) -> Iterator[KillableServer]:
    server = KillableServer(settings)  # its zygote imports the server meanwhile
    yield server
    server.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    yield receiver
    receiver.stop()


@dataclass
class Load:
    """Lanes of clients, each starting journey after journey until told to stop; the ones
    that cannot finish yet are kept to be resumed."""

    api: Api
    mailbox: Mailbox
    settings: Settings
    organization: str
    operator_token: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    started: list[Journey] = field(default_factory=list)
    unfinished: list[Journey] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def journey(self, kind: str, n: int) -> Journey:
        who = f"{kind}-{n}-{self.tag}"
        if kind == "onboarding":
            return Onboarding(f"{who}@example.com", self.organization, self.operator_token)
        if kind == "registration":
            return SelfServiceRegistration(f"{who}@example.com", f"Registered {who}")
        return HubspotPayment(
            f"evt-{who}",
            f"{who}@example.com",
            f"Paid {who}",
            SECRET,
            f"{self.settings.public_url}/v1/webhooks/hubspot",
        )

    async def lane(self, kind: str, lane: int) -> None:
        n = 0
        while not self.stop.is_set():
            journey = self.journey(kind, lane * 1000 + n)
            self.started.append(journey)
            n += 1
            await self.attempt(journey)

    async def attempt(self, journey: Journey) -> None:
        try:
            await journey.run(self.api, self.mailbox)
        except GaveUp:
            self.unfinished.append(journey)

    def payments(self) -> list[str]:
        return [j.company for j in self.started if isinstance(j, HubspotPayment)]


async def kill_repeatedly(server: KillableServer, rng: random.Random) -> None:
    for _kill in range(KILLS):
        await asyncio.sleep(rng.uniform(*KILL_DELAY))
        await asyncio.to_thread(server.kill)
        await asyncio.to_thread(server.start)


async def make_operator(settings: Settings) -> None:
    container = Container(settings)
    await container.start(migrate=False, workers=False)
    try:
        await ensure_platform_admin(container.identity, **OPERATOR)
    finally:
        await container.stop()


async def subscribe_and_organize(api: Api, receiver: Receiver) -> tuple[str, str]:
    """The operator's token and an organization on a plan with seats for every invitee
    (premium's 250: a quiet machine onboards more than standard's 50 during the load), with a
    platform endpoint subscribed to every event before any load starts."""
    token = (await api.expect(200, "POST", "/v1/auth/login", json=OPERATOR))["access_token"]
    await api.expect(
        201,
        "POST",
        "/v1/admin/webhook-endpoints",
        headers=bearer(token),
        json={"url": receiver.url(), "events": ["*"]},
    )
    organization = await api.expect(
        201,
        "POST",
        "/v1/admin/tenants",
        headers=bearer(token),
        json={"name": "Crash Co", "plan": "premium", "owner_email": OPERATOR["email"]},
    )
    return token, organization["id"]


async def let_time_pass(settings: Settings) -> None:
    """What the server does over the next 20 minutes, done now by the same code on a clock
    moved forward: the recovery sweep undoes reservations of runs the kills cut short, and
    the workers send what a killed worker had leased (its lease has run out by then)."""
    clock = ShiftableClock()
    clock.advance(LATER.total_seconds())
    container = Container(settings, clock=clock)
    await container.start(migrate=False, workers=False)
    try:
        await container.provisioner.recover_stalled()
        for _hour in range(24):
            while await container.mail_worker.drain_once():
                pass
            while await container.webhook_dispatcher.run_once():
                pass
            if not await backlog(container.db):
                return
            # A send that failed is retried later: let that time pass too, or its retry
            # would be due only 20 minutes after the real clock's now.
            clock.advance(3600)
    finally:
        await container.stop()


async def backlog(db: Database) -> int:
    async with db.read() as session:
        mail = await session.scalar(select(func.count()).where(MailMessage.status == "pending"))
        events = await session.scalar(
            select(func.count()).where(DomainEvent.dispatched_at.is_(None))
        )
        deliveries = await session.scalar(
            select(func.count()).where(WebhookDelivery.status == "pending")
        )
    return (mail or 0) + (events or 0) + (deliveries or 0)


async def wait_until_drained(db: Database) -> None:
    deadline = time.monotonic() + DRAIN_SECONDS
    while (left := await backlog(db)) and time.monotonic() < deadline:  # noqa: ASYNC110 - another process drains
        await asyncio.sleep(0.2)
    assert left == 0, f"{left} outbox rows still pending after {DRAIN_SECONDS}s"


async def broken_promises(
    db: Database, load: Load, mailbox: Mailbox, receiver: Receiver
) -> list[str]:
    async with db.read() as session:
        return [
            *await invariants.workspaces(session),
            *await invariants.ownership(session),
            *await invariants.acknowledged(session, load.api.ledger),
            *await invariants.no_duplicates(
                session, companies=load.payments(), organization=load.organization
            ),
            *await invariants.mail_delivered(session, mailbox.messages()),
            *await invariants.events_delivered(session, list(receiver.received)),
        ]


async def test_sigkill_under_load_loses_and_duplicates_nothing(
    settings: Settings, server: KillableServer, mailbox: Mailbox, receiver: Receiver
) -> None:
    await make_operator(settings)
    server.start()
    db = Database(settings.effective_database_url, data_dir=settings.data_dir)
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            api = Api(http, Ledger())
            token, organization = await subscribe_and_organize(api, receiver)
            load = Load(api, mailbox, settings, organization, token)
            lanes = [
                asyncio.create_task(load.lane(kind, lane))
                for kind, count in LANES.items()
                for lane in range(count)
            ]
            await kill_repeatedly(server, random.Random())
            load.stop.set()
            await asyncio.gather(*lanes)
            server.stop()
            await let_time_pass(settings)
            server.start()
            resumed, load.unfinished = load.unfinished, []
            await asyncio.gather(*(load.attempt(journey) for journey in resumed))
            assert not load.unfinished, load.unfinished
            await wait_until_drained(db)
        server.stop()
        broken = await broken_promises(db, load, mailbox, receiver)
    finally:
        await db.dispose()
    assert not api.ledger.faults, api.ledger.faults
    assert not broken, "\n".join(broken)
    assert len(load.started) > len(LANES) * 2, "the load barely ran"
