"""Spent credentials are purged a day after they stop working (`domain/identity/retention.py`):
revoked and expired sessions with their refresh tokens and web sessions, expired or used codes,
closed lockout windows; a live session keeps the refresh tokens it rotated for a week (reuse
detection needs them) and keeps working. Both databases."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tenantry.bootstrap import Container
from tenantry.domain.identity.retention import (
    GRACE,
    REUSE_DETECTION,
    purge_spent_credentials,
)
from tenantry.storage.models import EmailCode, LoginThrottle, RefreshToken, Session, WebSession
from tests.support.api import Account, sign_in
from tests.support.clock import ShiftableClock
from tests.support.counts import count_rows

pytestmark = pytest.mark.integration
MODELS = {
    "sessions": Session,
    "refresh_tokens": RefreshToken,
    "web_sessions": WebSession,
    "email_codes": EmailCode,
    "login_throttles": LoginThrottle,
}


async def counts(container: Container) -> dict[str, int]:
    return {name: await count_rows(container.db, model) for name, model in MODELS.items()}


async def purge(container: Container) -> None:
    await purge_spent_credentials(
        container.db, now=container.clock.now(), throttle_window=container.settings.throttle_window
    )


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/v1/auth/refresh", json={"refresh_token": token})


async def test_spent_credentials_go_live_ones_stay(
    container: Container, ann: Account, client: httpx.AsyncClient, clock: ShiftableClock
) -> None:
    rotated = await refresh(client, ann.refresh_token)  # Ann's first session, rotated once
    assert rotated.status_code == 200
    live_token = rotated.json()["refresh_token"]
    second = await sign_in(client, ann.email, ann.password)
    await container.web_sessions.open(refresh_token=second.refresh_token)
    logout = await client.post("/v1/auth/logout", json={"refresh_token": second.refresh_token})
    assert logout.status_code == 204
    forgot = await client.post("/v1/auth/password/forgot", json={"email": ann.email})
    assert forgot.status_code == 202
    wrong = await client.post(
        "/v1/auth/login", json={"email": ann.email, "password": "not her password at all"}
    )
    assert wrong.status_code == 401
    await container.detached.settle()  # the reset code is made after the answer
    before = await counts(container)
    assert before["sessions"] == 2 and before["web_sessions"] == 1
    # The wrong password (Ann's device, her account), the mails asked for Ann (her address,
    # from her address before sign-up, from her device after) and the hashing requests of
    # her client's address: all counters the purge must clear.
    assert before["login_throttles"] == 6

    await purge(container)  # nothing is spent for a day yet
    assert await counts(container) == before

    clock.advance((GRACE + timedelta(hours=1)).total_seconds())
    await purge(container)
    after = await counts(container)
    assert after["sessions"] == 1  # the logged-out one went, with its token and web session
    assert after["web_sessions"] == 0
    assert after["refresh_tokens"] == 2  # the live session's first token and its successor
    assert after["login_throttles"] == 0
    assert before["email_codes"] == 2 and after["email_codes"] == 0  # used, and expired
    assert (await refresh(client, second.refresh_token)).status_code == 401
    kept = await refresh(client, live_token)
    assert kept.status_code == 200, kept.text

    # a week after its rotation, an old token is forgotten: its replay is refused without
    # revoking the session, which keeps refreshing
    clock.advance(REUSE_DETECTION.total_seconds())
    newest = kept.json()["refresh_token"]
    await purge(container)
    assert (await counts(container))["refresh_tokens"] == 1  # the current one
    assert (await refresh(client, live_token)).status_code == 401
    assert (await refresh(client, newest)).status_code == 200

    clock.advance(container.settings.refresh_token_ttl + GRACE.total_seconds())
    await purge(container)
    assert (await counts(container))["sessions"] == 0
    assert (await counts(container))["refresh_tokens"] == 0


async def test_the_container_purge_includes_credentials(
    container: Container, ann: Account, client: httpx.AsyncClient, clock: ShiftableClock
) -> None:
    logout = await client.post("/v1/auth/logout", json={"refresh_token": ann.refresh_token})
    assert logout.status_code == 204
    clock.advance((GRACE + timedelta(minutes=1)).total_seconds())
    await container._purge_expired_rows()
    assert await count_rows(container.db, Session) == 0
