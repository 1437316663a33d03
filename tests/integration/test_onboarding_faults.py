"""Crash consistency of the onboarding transaction by fault injection (SPEC §5; security
catalogue 40): a failure at any step leaves nothing of the workspace, keeps the code usable,
mails nothing, and a retry then creates exactly one complete workspace."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from tenantry.bootstrap import Container
from tenantry.domain.identity.sessions import ClientInfo
from tenantry.faults import InjectedFault
from tenantry.storage.models import (
    DomainEvent,
    EmailCode,
    MailMessage,
    Session,
    Tenant,
    User,
)
from tenantry.transports.rest.app import create_app
from tests.support.api import PASSWORD
from tests.support.counts import ONE_WORKSPACE, count_rows, workspace_counts
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.integration

CHECKPOINTS = [
    "onboarding.user",
    "onboarding.tenant",
    "onboarding.membership",
    "onboarding.project",
    "onboarding.default_tenant",
    "onboarding.events",
]
NO_WORKSPACE = {"users": 1, "tenants": 0, "memberships": 0, "projects": 0, "environments": 0}
ONBOARDING_EVENTS = {
    "user.confirmed": 1,
    "tenant.created": 1,
    "membership.created": 1,
    "project.created": 1,
    "environment.created": 2,
}
CLIENT = ClientInfo(ip="127.0.0.1", user_agent="pytest")


@pytest.fixture
async def app_client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """The in-process app, answering unexpected errors the way a server does (the shared
    `client` fixture re-raises them into the test instead)."""
    transport = httpx.ASGITransport(app=create_app(container), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def event_counts(container: Container) -> dict[str, int]:
    async with container.db.read() as session:
        types = list(await session.scalars(select(DomainEvent.type)))
    return {kind: types.count(kind) for kind in sorted(set(types))}


async def live_code(container: Container, email: str) -> EmailCode:
    async with container.db.read() as session:
        codes = list(
            await session.scalars(select(EmailCode).where(EmailCode.email_key == email.lower()))
        )
    assert len(codes) == 1
    return codes[0]


async def user_row(container: Container, email: str) -> User:
    async with container.db.read() as session:
        user = await session.scalar(select(User).where(User.email_key == email.lower()))
    assert user is not None
    return user


async def assert_nothing_of_the_workspace(container: Container, email: str) -> None:
    assert await workspace_counts(container.db) == NO_WORKSPACE
    assert await event_counts(container) == {"user.created": 1}
    assert await count_rows(container.db, Session) == 0
    user = await user_row(container, email)
    assert not user.email_verified
    assert user.default_tenant_id is None
    code = await live_code(container, email)
    assert code.used_at is None
    assert code.attempts == 0
    assert await count_rows(container.db, MailMessage) == 1  # the code mail, nothing since


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
async def test_a_failure_at_any_onboarding_step_leaves_nothing_and_the_retry_completes(
    checkpoint: str, app_client: httpx.AsyncClient, mailbox: Mailbox, container: Container
) -> None:
    email = "crash@example.com"
    signed_up = await app_client.post(
        "/v1/auth/signup", json={"email": email, "password": PASSWORD, "name": "Cora"}
    )
    assert signed_up.status_code == 202
    code = await mailbox.code_for(email)
    signup_password_hash = (await user_row(container, email)).password_hash
    container.faults.armed = checkpoint

    # The checkpoint is reached and aborts the transaction...
    with pytest.raises(InjectedFault, match=checkpoint):
        await container.signup.confirm(email=email, code=code, password=None, client=CLIENT)
    await assert_nothing_of_the_workspace(container, email)

    # ...and over HTTP the failure is an opaque 500 problem, with nothing half-written.
    with capture_logs() as logs:  # also spares rendering the traceback to the console
        failed = await app_client.post("/v1/auth/confirm", json={"email": email, "code": code})
    logged = [entry for entry in logs if entry["event"] == "unhandled_error"]
    assert len(logged) == 1
    assert isinstance(logged[0]["exc_info"], InjectedFault)
    assert failed.status_code == 500
    assert failed.headers["content-type"] == "application/problem+json"
    problem = failed.json()
    assert problem["code"] == "internal_error"
    assert problem["status"] == 500
    assert set(problem) == {"type", "title", "status", "detail", "code"}
    for leak in ("Traceback", "InjectedFault", checkpoint, 'File "', ".py"):
        assert leak not in failed.text
    await assert_nothing_of_the_workspace(container, email)
    assert (await user_row(container, email)).password_hash == signup_password_hash

    container.faults.armed = None
    confirmed = await app_client.post("/v1/auth/confirm", json={"email": email, "code": code})
    assert confirmed.status_code == 200, confirmed.text
    assert await workspace_counts(container.db) == ONE_WORKSPACE
    assert await event_counts(container) == {"user.created": 1, **ONBOARDING_EVENTS}
    user = await user_row(container, email)
    assert user.email_verified
    async with container.db.read() as session:
        tenant = await session.scalar(select(Tenant))
    assert tenant is not None
    assert (tenant.kind, tenant.plan, tenant.name) == ("personal", "free", "Cora's workspace")
    assert user.default_tenant_id == tenant.id
    assert await count_rows(container.db, MailMessage) == 1
    again = await app_client.post("/v1/auth/confirm", json={"email": email, "code": code})
    assert (again.status_code, again.json()["code"]) == (400, "invalid_code")


async def test_an_unarmed_checkpoint_changes_nothing(
    app_client: httpx.AsyncClient, mailbox: Mailbox, container: Container
) -> None:
    container.faults.armed = "onboarding.nowhere"
    email = "calm@example.com"
    await app_client.post("/v1/auth/signup", json={"email": email, "password": PASSWORD})
    code = await mailbox.code_for(email)
    confirmed = await app_client.post("/v1/auth/confirm", json={"email": email, "code": code})
    assert confirmed.status_code == 200
    assert await workspace_counts(container.db) == ONE_WORKSPACE


async def test_mail_of_rolled_back_work_is_never_written_nor_sent(
    mailbox: Mailbox, container: Container
) -> None:
    recipient = f"{uuid.uuid4().hex[:8]}@example.com"
    with pytest.raises(InjectedFault):
        async with container.db.transaction() as session:
            container.mail.enqueue(
                session,
                to=recipient,
                template="confirm_code",
                context={"code": "123456", "minutes": 10},
            )
            await session.flush()  # the row reaches the database inside the transaction
            raise InjectedFault("after the mail was queued")

    assert await count_rows(container.db, MailMessage) == 0
    await container.mail_worker.drain_once()
    assert mailbox.messages(recipient) == []
