"""The mail outbox's queue SQL (`tenantry.storage.mail_queue`) against a real database: only
due, unleased, pending messages are claimed, oldest first; a lease keeps a message from other
claimers until it ends, also when they claim at the same moment; a reschedule stores its time
and a sent message is done."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tenantry.storage import mail_queue
from tenantry.storage.database import Database
from tenantry.storage.mail_queue import QueuedMail
from tenantry.storage.models import MailMessage
from tests.support.databases import connected

pytestmark = pytest.mark.integration

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
LEASE = timedelta(seconds=60)


def seconds(count: float) -> timedelta:
    return timedelta(seconds=count)


async def add_mail(
    db: Database,
    *,
    created: timedelta = seconds(0),
    due: timedelta = seconds(0),
    status: str = "pending",
    lease_until: datetime | None = None,
) -> uuid.UUID:
    """A message created and due `created`/`due` from NOW."""
    mail_id = uuid.uuid4()
    async with db.transaction() as session:
        session.add(
            MailMessage(
                id=mail_id,
                recipient=f"{mail_id.hex[:8]}@example.com",
                subject="Subject",
                text_body="text",
                html_body="<p>html</p>",
                status=status,
                attempts=0,
                next_attempt_at=NOW + due,
                lease_until=lease_until,
                created_at=NOW + created,
            )
        )
    return mail_id


async def claim(db: Database, at: datetime = NOW, limit: int = 10) -> list[QueuedMail]:
    async with db.transaction() as session:
        return await mail_queue.claim(session, now=at, limit=limit, lease_until=at + LEASE)


async def stored(db: Database, mail_id: uuid.UUID) -> MailMessage:
    async with db.read() as session:
        return await session.get_one(MailMessage, mail_id)


async def test_claim_returns_the_due_unleased_pending_messages_oldest_first(db: Database) -> None:
    newest = await add_mail(db, created=seconds(-1))
    due_now = await add_mail(db, created=seconds(-3), due=seconds(0))
    lease_ended = await add_mail(db, created=seconds(-2), lease_until=NOW - seconds(1))
    oldest = await add_mail(db, created=seconds(-5), due=seconds(-5))
    await add_mail(db, created=seconds(-9), due=seconds(1))  # not due yet
    await add_mail(db, created=seconds(-9), status="sent")
    await add_mail(db, created=seconds(-9), lease_until=NOW + seconds(1))
    await add_mail(db, created=seconds(-9), lease_until=NOW)  # leased up to this instant

    claimed = await claim(db)

    assert [mail.id for mail in claimed] == [oldest, due_now, lease_ended, newest]
    for mail_id in (oldest, due_now, lease_ended, newest):
        assert (await stored(db, mail_id)).lease_until == NOW + LEASE
    message = claimed[0]
    assert (message.subject, message.text_body, message.html_body) == (
        "Subject",
        "text",
        "<p>html</p>",
    )
    assert message.recipient == f"{oldest.hex[:8]}@example.com"
    assert message.attempts == 0


async def test_claim_takes_at_most_the_batch_the_oldest_first(db: Database) -> None:
    ids = [await add_mail(db, created=seconds(-count)) for count in range(5)]
    first = await claim(db, limit=2)
    second = await claim(db, limit=2)
    assert [mail.id for mail in first] == [ids[4], ids[3]]
    assert [mail.id for mail in second] == [ids[2], ids[1]]


async def test_a_leased_message_is_not_claimed_again_until_its_lease_ends(db: Database) -> None:
    mail_id = await add_mail(db)
    assert [mail.id for mail in await claim(db)] == [mail_id]
    assert await claim(db, at=NOW + LEASE / 2) == []
    assert await claim(db, at=NOW + LEASE) == []  # the lease holds up to its end
    again = await claim(db, at=NOW + LEASE + seconds(1))
    assert [mail.id for mail in again] == [mail_id]
    assert (await stored(db, mail_id)).lease_until == NOW + 2 * LEASE + seconds(1)


async def test_concurrent_claimers_never_get_the_same_message(
    db: Database, database_url: str
) -> None:
    ids = {await add_mail(db, created=seconds(-count)) for count in range(40)}
    async with connected(database_url, 4) as claimers:
        for _ in range(3):
            rounds = await asyncio.gather(*(claim(claimer, limit=10) for claimer in claimers))
            claimed = [mail.id for batch in rounds for mail in batch]
            assert len(claimed) == len(set(claimed)), "a message was claimed twice"
            ids -= set(claimed)
    # Whatever a claimer lost to another stays for the next round: nothing is lost.
    leftover = {mail.id for mail in await claim(db, limit=50)}
    assert leftover == ids


async def test_a_reschedule_stores_its_time_and_releases_the_lease(db: Database) -> None:
    mail_id = await add_mail(db)
    await claim(db)
    retry_at = NOW + seconds(8)
    async with db.transaction() as session:
        await mail_queue.reschedule(session, mail_id, attempts=3, error="boom", at=retry_at)

    row = await stored(db, mail_id)
    assert (row.status, row.attempts, row.last_error) == ("pending", 3, "boom")
    assert (row.next_attempt_at, row.lease_until) == (retry_at, None)
    assert await claim(db, at=retry_at - seconds(1)) == []
    again = await claim(db, at=retry_at)
    assert [(mail.id, mail.attempts) for mail in again] == [(mail_id, 3)]


async def test_a_sent_message_is_never_claimed_again(db: Database) -> None:
    mail_id = await add_mail(db)
    await claim(db)
    async with db.transaction() as session:
        await mail_queue.reschedule(session, mail_id, attempts=1, error="boom", at=NOW)
    await claim(db)
    sent_at = NOW + seconds(2)
    async with db.transaction() as session:
        await mail_queue.mark_sent(session, mail_id, attempts=2, now=sent_at)

    row = await stored(db, mail_id)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 2, sent_at)
    assert (row.lease_until, row.last_error) == (None, None)
    assert await claim(db, at=NOW + timedelta(days=1)) == []
