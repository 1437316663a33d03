"""Mail is written to an outbox table in the transaction that causes it, so a message is sent
only for committed work and survives an SMTP outage; the mail worker drains the table."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.storage.hooks import after_commit
from tenantry.storage.models import MailMessage


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


class MailRenderer(Protocol):
    """Renders a mail template (`tenantry.adapters.mail_templates`)."""

    def render(self, template: str, values: Mapping[str, Any]) -> RenderedMail: ...


class MailOutbox:
    def __init__(
        self, *, clock: Clock, renderer: MailRenderer, product_name: str = "Tenantry"
    ) -> None:
        self._clock = clock
        self._renderer = renderer
        self._product_name = product_name
        self.ready = asyncio.Event()

    def enqueue(
        self, session: AsyncSession, *, to: str, template: str, context: dict[str, Any]
    ) -> None:
        """Render `template` (a subject line, a text and an HTML part) and queue it for `to`."""
        mail = self._renderer.render(template, {"product": self._product_name, **context})
        now = self._clock.now()
        session.add(
            MailMessage(
                id=uuid.uuid4(),
                recipient=to,
                subject=mail.subject,
                text_body=mail.text,
                html_body=mail.html,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        after_commit(session, self.ready.set)
