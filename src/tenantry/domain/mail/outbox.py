"""Mail is written to an outbox table in the transaction that causes it, so a message is sent
only for committed work and survives an SMTP outage; the mail worker drains the table."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.clock import Clock
from tenantry.storage.hooks import after_commit
from tenantry.storage.models import MailMessage

_templates = Environment(
    loader=PackageLoader("tenantry.domain.mail", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


class MailOutbox:
    def __init__(self, *, clock: Clock, product_name: str = "Tenantry") -> None:
        self._clock = clock
        self._product_name = product_name
        self.ready = asyncio.Event()

    def enqueue(
        self, session: AsyncSession, *, to: str, template: str, context: dict[str, Any]
    ) -> None:
        """Render `template` (a subject line, a text and an HTML part) and queue it for `to`."""
        values = {"product": self._product_name, **context}
        now = self._clock.now()
        session.add(
            MailMessage(
                id=uuid.uuid4(),
                recipient=to,
                subject=_templates.get_template(f"{template}.subject.txt").render(values).strip(),
                text_body=_templates.get_template(f"{template}.txt").render(values),
                html_body=_templates.get_template(f"{template}.html").render(values),
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        after_commit(session, self.ready.set)
