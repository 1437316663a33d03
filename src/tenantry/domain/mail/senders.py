"""What the mail worker needs of wherever mail goes (`tenantry.adapters.smtp`: an SMTP server,
or the log)."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

# How long one message may take to send: the mail worker sizes its lease on it.
SEND_TIMEOUT_SECONDS = 10.0


class MailSender(Protocol):
    async def send(self, message: EmailMessage) -> None: ...
