"""The mail outbox when SMTP is down (security catalogue 43): requests still succeed, mail
waits in the outbox with its error and a backoff, and is delivered once SMTP returns, once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import select

from tenantry.bootstrap import Container
from tenantry.domain.mail.worker import backoff
from tenantry.settings import Settings
from tenantry.storage.models import MailMessage
from tenantry.transports.rest.app import create_app
from tests.support.api import PASSWORD
from tests.support.clock import ShiftableClock
from tests.support.mailbox import CODE, Mailbox
from tests.support.net import free_port

pytestmark = pytest.mark.integration


@asynccontextmanager
async def quiet_container(
    settings: Settings, clock: ShiftableClock
) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    """A container without background workers, so the test alone drains the outbox, and a
    client of its app."""
    container = Container(settings, clock=clock)
    await container.start(migrate=False, workers=False)
    transport = httpx.ASGITransport(app=create_app(container, migrate=False, workers=False))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield container, client
    finally:
        await container.stop()


@pytest.fixture
async def quiet(
    settings: Settings, clock: ShiftableClock
) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    async with quiet_container(settings, clock) as pair:
        yield pair


async def outbox(container: Container) -> list[MailMessage]:
    async with container.db.read() as session:
        return list(await session.scalars(select(MailMessage).order_by(MailMessage.created_at)))


async def only_message(container: Container) -> MailMessage:
    messages = await outbox(container)
    assert len(messages) == 1
    return messages[0]


async def sign_up(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post("/v1/auth/signup", json={"email": email, "password": PASSWORD})
    assert response.status_code == 202, response.text


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@pytest.mark.catalogue(43)
async def test_sign_up_succeeds_while_smtp_refuses_and_the_code_arrives_when_it_returns(
    quiet: tuple[Container, httpx.AsyncClient], mailbox: Mailbox, clock: ShiftableClock
) -> None:
    container, client = quiet
    mailbox.refuse = True
    await sign_up(client, "outage@example.com")

    assert await container.mail_worker.drain_once() == 1
    first = await only_message(container)
    assert (first.status, first.attempts, first.sent_at) == ("pending", 1, None)
    assert first.last_error is not None
    assert "451" in first.last_error
    assert first.lease_until is None
    assert first.next_attempt_at >= first.created_at + backoff(1)
    assert await container.mail_worker.drain_once() == 0  # not due before its backoff

    clock.advance(backoff(1).total_seconds() + 1)
    assert await container.mail_worker.drain_once() == 1
    second = await only_message(container)
    assert (second.status, second.attempts) == ("pending", 2)
    assert second.next_attempt_at - first.next_attempt_at >= backoff(2) - backoff(1)
    assert mailbox.messages() == []

    mailbox.refuse = False
    assert await container.mail_worker.drain_once() == 0  # still waiting out the backoff
    clock.advance(backoff(2).total_seconds() + 1)
    assert await container.mail_worker.drain_once() == 1
    sent = await only_message(container)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 3, None)
    assert sent.sent_at is not None

    code = await mailbox.code_for("outage@example.com")
    assert len(mailbox.messages()) == 1
    confirmed = await client.post(
        "/v1/auth/confirm", json={"email": "outage@example.com", "code": code}
    )
    assert confirmed.status_code == 200, confirmed.text


@pytest.mark.catalogue(43)
async def test_the_background_worker_delivers_once_smtp_returns(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox, clock: ShiftableClock
) -> None:
    mailbox.refuse = True
    await sign_up(client, "later@example.com")

    async def failed_once() -> bool:
        message = await only_message(container)
        return message.attempts >= 1 and message.last_error is not None

    await eventually(failed_once)
    assert (await only_message(container)).status == "pending"

    mailbox.refuse = False
    clock.advance(backoff(16).total_seconds())  # past any backoff
    await mailbox.wait_for("later@example.com", within=15)

    async def sent() -> bool:
        return (await only_message(container)).status == "sent"

    await eventually(sent)
    assert len(mailbox.messages("later@example.com")) == 1


@pytest.mark.catalogue(43)
async def test_an_unreachable_smtp_server_keeps_mail_pending_and_nothing_is_lost(
    settings: Settings, clock: ShiftableClock, mailbox: Mailbox
) -> None:
    closed_port = free_port()
    unreachable = settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{closed_port}"})
    emails = ["down1@example.com", "down2@example.com"]
    async with quiet_container(unreachable, clock) as (container, client):
        for email in emails:
            await sign_up(client, email)
        passwordless = await client.post("/v1/auth/email-code", json={"email": "down3@example.com"})
        assert passwordless.status_code == 202
        assert await container.mail_worker.drain_once() == 3
        for message in await outbox(container):
            assert (message.status, message.attempts) == ("pending", 1)
            assert message.last_error

    # Restarted with a reachable SMTP server, the pending mail goes out, each message once.
    clock.advance(backoff(1).total_seconds() + 1)
    async with quiet_container(settings, clock) as (container, _client):
        assert await container.mail_worker.drain_once() == 3
        assert {m.status for m in await outbox(container)} == {"sent"}
    assert sorted(mail.to for mail in mailbox.messages()) == [*emails, "down3@example.com"]


async def test_workers_sharing_the_outbox_send_each_message_once(
    settings: Settings, clock: ShiftableClock, mailbox: Mailbox
) -> None:
    emails = [f"shared{n}@example.com" for n in range(6)]
    async with (
        quiet_container(settings, clock) as (first, client),
        quiet_container(settings, clock) as (second, _),
    ):
        for email in emails:
            await sign_up(client, email)
        claimed = await asyncio.gather(
            first.mail_worker.drain_once(), second.mail_worker.drain_once()
        )
        assert sum(claimed) == len(emails)
        assert {m.status for m in await outbox(first)} == {"sent"}
    assert sorted(mail.to for mail in mailbox.messages()) == emails


async def test_the_code_mail_has_a_text_and_an_html_part(
    quiet: tuple[Container, httpx.AsyncClient], mailbox: Mailbox
) -> None:
    container, client = quiet
    await sign_up(client, "parts@example.com")
    await container.mail_worker.drain_once()

    mail = await mailbox.wait_for("parts@example.com")
    match = CODE.search(mail.text)
    assert match
    assert mail.subject
    assert match.group(1) in mail.html
    assert "<" in mail.html
    assert "<" not in mail.text
