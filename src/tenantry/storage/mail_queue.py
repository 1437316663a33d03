"""The mail outbox table as a queue that several processes drain at once: a batch is claimed
by a lease (a conditional update, so a message leased by one process is not claimed by another
until the lease ends), then each message is marked sent or rescheduled. The caller owns the
transaction; each function here is one step of it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.storage.models import MailMessage


@dataclass(frozen=True)
class QueuedMail:
    """A claimed message: what sending it needs, and how often it was tried before."""

    id: uuid.UUID
    recipient: str
    subject: str
    text_body: str
    html_body: str
    attempts: int
    created_at: datetime


def _claimable(now: datetime) -> ColumnElement[bool]:
    return and_(
        MailMessage.status == "pending",
        MailMessage.next_attempt_at <= now,
        or_(MailMessage.lease_until.is_(None), MailMessage.lease_until < now),
    )


async def claim(
    session: AsyncSession, *, now: datetime, limit: int, lease_until: datetime
) -> list[QueuedMail]:
    """Lease up to `limit` pending messages due at `now` and not leased, oldest first."""
    ids = list(
        await session.scalars(
            select(MailMessage.id)
            .where(_claimable(now))
            .order_by(MailMessage.created_at)
            .limit(limit)
        )
    )
    if not ids:
        return []
    # The conditions again: another process may have leased one since the select.
    leased = await session.execute(
        update(MailMessage)
        .where(MailMessage.id.in_(ids), _claimable(now))
        .values(lease_until=lease_until)
        .returning(
            MailMessage.id,
            MailMessage.recipient,
            MailMessage.subject,
            MailMessage.text_body,
            MailMessage.html_body,
            MailMessage.attempts,
            MailMessage.created_at,
        )
    )
    claimed = [QueuedMail(**row._asdict()) for row in leased]
    return sorted(claimed, key=lambda message: message.created_at)


async def mark_sent(
    session: AsyncSession, mail_id: uuid.UUID, *, attempts: int, now: datetime
) -> None:
    await session.execute(
        update(MailMessage)
        .where(MailMessage.id == mail_id)
        .values(status="sent", sent_at=now, lease_until=None, attempts=attempts, last_error=None)
    )


async def reschedule(
    session: AsyncSession, mail_id: uuid.UUID, *, attempts: int, error: str, at: datetime
) -> None:
    """Release the lease and make the message due again at `at`."""
    await session.execute(
        update(MailMessage)
        .where(MailMessage.id == mail_id)
        .values(attempts=attempts, last_error=error, lease_until=None, next_attempt_at=at)
    )
