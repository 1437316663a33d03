"""A login's and a reset request's answers do the same work whether or not the address has an
account (issue 18 item 8): the review timed about 1.2 ms between a known address's failed login
(which wrote an audit entry) and an unknown one's, and 0.5 ms the other way on `forgot` (a known
address got its code made and mailed). That work now runs after the answer; what the answer
itself runs is compared statement by statement, which no wall clock can blur."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select

from tenantry.bootstrap import Container
from tenantry.storage.models import AuditEntry
from tests.support.api import Account, register
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.integration


@contextmanager
def statements_answering(container: Container) -> Iterator[list[str]]:
    """The SQL the request's own task runs (not the work it detached), parameters aside."""
    seen: list[str] = []
    engine = container.db.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        task = asyncio.current_task()
        if task is None or task.get_name() not in BACKGROUND:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


# The tasks that are not the request: the detached work and the container's workers.
BACKGROUND = {
    "detached-work",
    "audit-login-failure",
    "mail-reset-code",
    "mail-worker",
    "webhook-dispatcher",
    "collect-writer",
    "key-reload",
    "retention-purge",
    "provisioning-recovery",
    "access-epoch",
}


@pytest.fixture
async def known(client: httpx.AsyncClient, mailbox: Mailbox) -> Account:
    account = await register(client, mailbox, "known@example.com")
    client.cookies.clear()  # asked as a stranger would
    return account


@pytest.mark.catalogue(8)
async def test_a_failed_login_runs_the_same_statements_for_known_and_unknown_addresses(
    client: httpx.AsyncClient, container: Container, known: Account
) -> None:
    answers = {}
    for email in ("known@example.com", "unknown@example.com"):
        with statements_answering(container) as seen:
            response = await client.post(
                "/v1/auth/login", json={"email": email, "password": "not the password"}
            )
        answers[email] = (response.status_code, response.content, seen)
    assert answers["known@example.com"] == answers["unknown@example.com"]
    assert answers["known@example.com"][2]  # the answer's statements were seen
    await container.detached.settle()
    async with container.db.read() as session:
        failed = await session.scalars(
            select(AuditEntry.target_id).where(AuditEntry.action == "auth.login_failed")
        )
        assert list(failed) == [known.user_id]


@pytest.mark.catalogue(8)
async def test_a_reset_request_runs_the_same_statements_for_known_and_unknown_addresses(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox, known: Account
) -> None:
    answers = {}
    for email in ("known@example.com", "unknown@example.com"):
        with statements_answering(container) as seen:
            response = await client.post("/v1/auth/password/forgot", json={"email": email})
        answers[email] = (response.status_code, response.content, seen)
    assert answers["known@example.com"] == answers["unknown@example.com"]
    assert answers["known@example.com"][2]  # the answer's statements were seen
    await container.detached.settle()
    assert "reset" in (await mailbox.wait_for("known@example.com", count=2)).subject.lower()
    assert mailbox.messages("unknown@example.com") == []
