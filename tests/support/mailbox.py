"""A real SMTP server (aiosmtpd) in the test process that keeps what it receives."""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.net import free_port

CODE = re.compile(r"\b(\d{6})\b")


@dataclass(frozen=True)
class ReceivedMail:
    to: str
    subject: str
    text: str
    html: str
    # The outbox row's id (`<id@tenantry>`): a resent row has the same one.
    message_id: str = ""


class Mailbox:
    def __init__(self) -> None:
        self._messages: list[ReceivedMail] = []
        # Waiters poll by recipient: an index keeps a long run (bench.soak) from scanning all.
        self._by_recipient: dict[str, list[ReceivedMail]] = {}
        self._lock = threading.Lock()
        self.refuse = False

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse:
            return "451 try again later"
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        with self._lock:
            for recipient in envelope.rcpt_tos:
                mail = ReceivedMail(
                    to=recipient.lower(),
                    subject=str(message["Subject"]),
                    text=text.get_content() if text else "",
                    html=html.get_content() if html else "",
                    message_id=str(message["Message-ID"] or ""),
                )
                self._messages.append(mail)
                self._by_recipient.setdefault(mail.to, []).append(mail)
        return "250 OK"

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._by_recipient.clear()

    def messages(self, to: str | None = None) -> list[ReceivedMail]:
        with self._lock:
            if to is None:
                return list(self._messages)
            return list(self._by_recipient.get(to.lower(), []))

    async def wait_for(self, to: str, *, count: int = 1, within: float = 10.0) -> ReceivedMail:
        """The `count`-th message to `to`, waiting for it to arrive."""
        deadline = asyncio.get_running_loop().time() + within
        while asyncio.get_running_loop().time() < deadline:
            found = self.messages(to)
            if len(found) >= count:
                return found[count - 1]
            await asyncio.sleep(0.02)
        raise AssertionError(f"no mail #{count} to {to} within {within}s")

    async def code_for(self, to: str, *, count: int = 1, within: float = 10.0) -> str:
        """The code in the `count`-th message to `to`, or in the first later one carrying one.

        Security notices (a reset's "was this you?") go out after the answer and can land
        between a test's count of the mailbox and the code it asked for next.
        """
        deadline = asyncio.get_running_loop().time() + within
        while asyncio.get_running_loop().time() < deadline:
            for mail in self.messages(to)[count - 1 :]:
                if match := CODE.search(mail.text):
                    return match.group(1)
            await asyncio.sleep(0.02)
        raise AssertionError(f"no mail with a code from #{count} to {to} within {within}s")


class SmtpServer:
    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def start(self) -> str:
        self._controller.start()
        return f"smtp://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._controller.stop()
