"""Security notices (OWASP ASVS 2.2.3): a mail to an account's owner when its password is
changed, set or reset, or it is signed in to from a new device, written to the mail outbox in
the transaction of what it reports. Each says what happened, when, from which address and user
agent, and what to do if it wasn't them (the `security_notice` templates). A new kind (a second
factor added or removed, say) is one more `NoticeKind` here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.domain.audit import current_origin
from tenantry.domain.identity.known_devices import is_new_device
from tenantry.domain.identity.secrets import SecretHasher
from tenantry.domain.identity.sessions import ClientInfo
from tenantry.domain.mail.outbox import MailOutbox

SHOWN_USER_AGENT = 200


@dataclass(frozen=True)
class NoticeKind:
    headline: str  # the subject line
    happened: str  # the mail's first sentence


PASSWORD_CHANGED = NoticeKind("Your password was changed", "Your password was changed.")
PASSWORD_SET = NoticeKind(
    "A password was set on your account", "A password was set on your account, which had none."
)
PASSWORD_RESET = NoticeKind(
    "Your password was reset",
    "Your password was reset with a code mailed to this address; every session of your "
    "account was signed out.",
)
IDENTITY_LINKED = NoticeKind(
    "A sign-in service was linked to your account",
    "An account of another sign-in service was linked to your account from a signed-in "
    "session: its sign-ins now act as you.",
)
NEW_DEVICE = NoticeKind(
    "New sign-in to your account",
    "Your account was signed in to from a device or network it had not been signed in from.",
)


def _shown(user_agent: str | None) -> str:
    """The client's own description of itself, printable and short."""
    return "".join(c for c in (user_agent or "") if c.isprintable())[:SHOWN_USER_AGENT]


class SecurityNotices:
    def __init__(self, *, mail: MailOutbox, devices: SecretHasher, public_url: str) -> None:
        self._mail = mail
        self._devices = devices
        self._public_url = public_url

    def send(
        self,
        session: AsyncSession,
        kind: NoticeKind,
        *,
        to: str,
        now: datetime,
        client: ClientInfo | None = None,
        detail: str = "",
    ) -> None:
        """Queue a notice of `kind` to `to`, from `client`, else the request being served;
        `detail` names what the kind leaves general."""
        origin = client or current_origin()
        self._mail.enqueue(
            session,
            to=to,
            template="security_notice",
            context={
                "headline": kind.headline,
                "happened": kind.happened,
                "detail": detail,
                "when": now.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "ip": origin.ip or "",
                "user_agent": _shown(origin.user_agent),
                "forgot_url": f"{self._public_url}/login/forgot?{urlencode({'email': to})}",
                "account_url": f"{self._public_url}/app/account",
            },
        )

    async def signed_in(
        self,
        session: AsyncSession,
        *,
        user_id: uuid.UUID,
        email: str,
        client: ClientInfo,
        now: datetime,
    ) -> None:
        """Remember the device of a sign-in; tell the owner when it is a new one."""
        new = await is_new_device(
            session, hasher=self._devices, user_id=user_id, client=client, now=now
        )
        if new:
            self.send(session, NEW_DEVICE, to=email, now=now, client=client)
