"""`X-Forwarded-For` through the whole app (security catalogue 11; the parsing itself is in
tests/unit/test_client_ip.py). From an untrusted peer, or unparsable from a trusted proxy, the
header is ignored: what is recorded is the peer's address, and no policy is skipped (the
lockout counts per address, never per IP, so a header cannot reset or dodge it)."""

from __future__ import annotations

import ipaddress
import itertools

import httpx
import pytest
from sqlalchemy import select

from tenantry.bootstrap import Container
from tenantry.settings import Settings
from tenantry.storage.models import AuditEntry, Session
from tests.support.api import register
from tests.support.apps import client_with
from tests.support.clock import ShiftableClock
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.integration

PEER = "127.0.0.1"  # httpx's ASGI transport
MAX_FAILURES = 10
# Forged addresses are ignored from an untrusted peer; from a trusted proxy only a header it
# cannot have written (any unparsable hop) is.
IGNORED_HEADERS = {
    "untrusted peer": (
        [],
        ["203.0.113.9", "198.51.100.1, 203.0.113.9", "::1", "10.0.0.1", "garbage"],
    ),
    "unparsable from a trusted proxy": (
        [ipaddress.ip_network("127.0.0.0/8")],
        ["garbage", "1.2.3.4, nope", "1.2.3.999", "203.0.113.9,,", "203.0.113.9 198.51.100.1"],
    ),
}


@pytest.mark.catalogue(11)
@pytest.mark.parametrize("case", IGNORED_HEADERS)
async def test_an_untrusted_or_unparsable_forwarded_for_is_ignored_and_skips_no_policy(
    settings: Settings, clock: ShiftableClock, mailbox: Mailbox, container: Container, case: str
) -> None:
    trusted, headers = IGNORED_HEADERS[case]
    forwarded = itertools.cycle(headers)
    async with client_with(settings, clock, trusted_proxies=trusted) as client:
        account = await register(client, mailbox, "ann@example.com")

        async def login(password: str) -> httpx.Response:
            return await client.post(
                "/v1/auth/login",
                json={"email": account.email, "password": password},
                headers={"X-Forwarded-For": next(forwarded)},
            )

        signed_in = await login(account.password)
        assert signed_in.status_code == 200, signed_in.text
        for attempt in range(MAX_FAILURES):
            assert (await login("not the password")).status_code == 401, attempt
        locked = await login(account.password)

    assert (locked.status_code, locked.json()["code"]) == (429, "too_many_attempts")
    await container.detached.settle()
    async with container.db.read() as session:
        failures = list(
            await session.scalars(
                select(AuditEntry.ip).where(AuditEntry.action == "auth.login_failed")
            )
        )
        session_ips = set(await session.scalars(select(Session.ip)))
    assert failures == [PEER] * MAX_FAILURES
    assert session_ips == {PEER}
