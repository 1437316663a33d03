"""Drains the mail outbox: claims due messages with a lease (so several processes can share
the work), sends them, and reschedules failures with exponential backoff. Nothing is dropped.
The queue's SQL is `tenantry.storage.mail_queue`'s."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import timedelta
from email.message import EmailMessage

import structlog

from tenantry.clock import Clock
from tenantry.domain.mail.outbox import MailOutbox
from tenantry.domain.mail.senders import SEND_TIMEOUT_SECONDS, MailSender
from tenantry.storage import mail_queue
from tenantry.storage.database import Database
from tenantry.storage.mail_queue import QueuedMail

log = structlog.get_logger("tenantry.mail")

BATCH = 10
# A claimed batch must be sent before its lease ends, or another worker sends it again.
LEASE = timedelta(seconds=BATCH * SEND_TIMEOUT_SECONDS + 60)
IDLE_POLL_SECONDS = 2.0
MAX_BACKOFF = timedelta(minutes=30)


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** min(attempts, 16)), MAX_BACKOFF)


class MailWorker:
    def __init__(
        self,
        *,
        db: Database,
        outbox: MailOutbox,
        sender: MailSender,
        clock: Clock,
        mail_from: str,
    ) -> None:
        self._db = db
        self._outbox = outbox
        self._sender = sender
        self._clock = clock
        self._mail_from = mail_from

    async def run_forever(self) -> None:
        while True:
            try:
                sent = await self.drain_once()
            except Exception:  # a database hiccup must not kill the worker
                log.exception("mail_drain_failed")
                sent = 0
            if sent < BATCH:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                # cancellation that arrives as the event fires (CPython gh-86296), and the
                # worker would then never stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(IDLE_POLL_SECONDS):
                        await self._outbox.ready.wait()
                self._outbox.ready.clear()

    async def drain_once(self) -> int:
        """Send what is due now; returns how many messages were claimed."""
        claimed = await self._claim()
        for message in claimed:
            await self._deliver(message)
        return len(claimed)

    async def _claim(self) -> list[QueuedMail]:
        now = self._clock.now()
        async with self._db.transaction() as session:
            return await mail_queue.claim(session, now=now, limit=BATCH, lease_until=now + LEASE)

    async def _deliver(self, message: QueuedMail) -> None:
        attempts = message.attempts + 1
        try:
            await self._sender.send(self._to_email(message))
        except Exception as error:  # any SMTP or network failure: retry later
            await self._reschedule(message.id, attempts, repr(error))
            log.warning("mail_send_failed", mail_id=str(message.id), error=repr(error))
            return
        async with self._db.transaction() as session:
            await mail_queue.mark_sent(
                session, message.id, attempts=attempts, now=self._clock.now()
            )

    async def _reschedule(self, mail_id: uuid.UUID, attempts: int, error: str) -> None:
        async with self._db.transaction() as session:
            retry_at = self._clock.now() + backoff(attempts)
            await mail_queue.reschedule(
                session, mail_id, attempts=attempts, error=error[:2000], at=retry_at
            )

    def _to_email(self, message: QueuedMail) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self._mail_from
        email["To"] = message.recipient
        email["Subject"] = message.subject
        email["Message-ID"] = f"<{message.id}@tenantry>"
        email.set_content(message.text_body)
        email.add_alternative(message.html_body, subtype="html")
        return email
