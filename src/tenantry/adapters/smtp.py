"""Where mail goes: an SMTP server, or the log for a developer running `make run`."""

from __future__ import annotations

from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib
import structlog

from tenantry.domain.mail.senders import SEND_TIMEOUT_SECONDS
from tenantry.errors import InvalidInput

log = structlog.get_logger("tenantry.mail")


class LogSender:
    """Writes each message, text part included, to the log."""

    async def send(self, message: EmailMessage) -> None:
        body = message.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        log.info("mail", to=message["To"], subject=message["Subject"], text=text)


class SmtpSender:
    """Sends through `smtp://host:port` (STARTTLS when offered) or `smtps://user:pass@host:port`."""

    def __init__(self, url: str, *, timeout: float = SEND_TIMEOUT_SECONDS) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise InvalidInput("TENANTRY_SMTP_URL must be smtp://host:port or smtps://...")
        self._implicit_tls = parts.scheme == "smtps"
        self._hostname = parts.hostname
        self._port = parts.port or (465 if self._implicit_tls else 25)
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self._hostname,
            port=self._port,
            username=self._username,
            password=self._password,
            use_tls=self._implicit_tls,
            start_tls=None if not self._implicit_tls else False,
            timeout=self._timeout,
        )
