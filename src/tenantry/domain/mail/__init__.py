"""Mail: rendered into an outbox in the transaction that causes it, then sent by the worker
through a `MailSender` (an SMTP server, or the log)."""

from typing import TYPE_CHECKING

from tenantry.domain.exports import lazy_exports

if TYPE_CHECKING:
    from tenantry.domain.mail.outbox import MailOutbox, MailRenderer, RenderedMail
    from tenantry.domain.mail.senders import MailSender
    from tenantry.domain.mail.worker import MailWorker

__all__ = [
    "MailOutbox",
    "MailRenderer",
    "MailSender",
    "MailWorker",
    "RenderedMail",
]
__getattr__ = lazy_exports(
    __name__,
    {
        "MailOutbox": "outbox",
        "MailRenderer": "outbox",
        "MailSender": "senders",
        "MailWorker": "worker",
        "RenderedMail": "outbox",
    },
)
