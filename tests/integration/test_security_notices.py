"""Security notices (domain/identity/notices.py, OWASP ASVS 2.2.3), as mail received by the
test SMTP server: a password changed (API and account page), set or reset (API and reset
page), and a sign-in from a new device, each saying when, from where and what to do if it
wasn't the owner. The sign-in that confirms a new account, a known device and a refresh send
none; parallel sign-ins from one new device send one. Both databases."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from tenantry.bootstrap import Container
from tenantry.domain.identity.known_devices import FORGET_AFTER
from tenantry.domain.identity.retention import purge_spent_credentials
from tenantry.storage.models import KnownDevice, MailMessage
from tenantry.transports.rest.app import create_app
from tests.support.api import PASSWORD, Account, bearer
from tests.support.clock import ShiftableClock
from tests.support.counts import count_rows
from tests.support.mailbox import Mailbox, ReceivedMail

pytestmark = pytest.mark.integration
NEW_PASSWORD = "an entirely different passphrase"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
# the same browser a version later: the same device
FIREFOX_UPDATED = "Mozilla/5.0 (X11; Linux x86_64; rv:134.0) Gecko/20100101 Firefox/134.0"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NOTICE = "Tenantry: "
NEW_DEVICE = "Tenantry: New sign-in to your account"


async def delivered(container: Container, mailbox: Mailbox, email: str) -> list[ReceivedMail]:
    """Every mail to `email` once the outbox has sent all it holds."""
    for _ in range(500):
        pending = await count_rows(container.db, MailMessage, MailMessage.status == "pending")
        if pending == 0:
            return mailbox.messages(email)
        await asyncio.sleep(0.02)
    raise AssertionError("the outbox did not drain")


async def notices(container: Container, mailbox: Mailbox, email: str) -> list[ReceivedMail]:
    return [m for m in await delivered(container, mailbox, email) if m.subject.startswith(NOTICE)]


def assert_wasnt_you_guidance(mail: ReceivedMail, *, user_agent: str) -> None:
    for part in (mail.text, mail.html):
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", part), part
        assert "127.0.0.1" in part
        assert "Wasn't you?" in part
        assert "http://testserver/login/forgot?email=" in part
        assert "http://testserver/app/account" in part
    assert f"Device: {user_agent}" in mail.text
    assert "ignore this message" not in mail.html


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, html
    return found.group(1)


async def login(client: httpx.AsyncClient, email: str, user_agent: str) -> httpx.Response:
    return await client.post(
        "/v1/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"User-Agent": user_agent},
    )


async def web_sign_in(client: httpx.AsyncClient, email: str, user_agent: str) -> str:
    """Sign in through the pages as a browser showing `user_agent` (a fresh one: no cookies
    kept); the signed-in session's CSRF token."""
    client.cookies.clear()
    headers = {"User-Agent": user_agent}
    token = csrf_of((await client.get("/login", headers=headers)).text)
    signed = await client.post(
        "/login/password",
        data={"csrf_token": token, "email": email, "password": PASSWORD},
        headers=headers,
    )
    assert signed.status_code == 303, signed.text
    return csrf_of((await client.get("/app/account", headers=headers)).text)


async def test_a_password_change_is_mailed_with_wasnt_you_guidance(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox, ann: Account
) -> None:
    changed = await client.post(
        "/v1/auth/password/change",
        json={"current_password": PASSWORD, "password": NEW_PASSWORD},
        headers={**bearer(ann.access_token), "User-Agent": "deploy-script/2"},
    )
    assert changed.status_code == 204, changed.text

    [notice] = await notices(container, mailbox, ann.email)
    assert notice.subject == "Tenantry: Your password was changed"
    assert "Your password was changed." in notice.text
    assert_wasnt_you_guidance(notice, user_agent="deploy-script/2")


async def test_the_account_page_mails_a_change_and_a_first_password(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox, ann: Account
) -> None:
    csrf = await web_sign_in(client, ann.email, FIREFOX)
    form = {"csrf_token": csrf, "current_password": PASSWORD, "password": NEW_PASSWORD}
    saved = await client.post("/app/account/password", data=form)
    assert saved.status_code == 303, saved.text
    subjects = [m.subject for m in await notices(container, mailbox, ann.email)]
    assert subjects == [NEW_DEVICE, "Tenantry: Your password was changed"]

    # an account made by an emailed code, which has no password until one is set
    codeless = "codeless@example.com"
    client.cookies.clear()
    token = csrf_of((await client.get("/login")).text)
    asked = await client.post("/login/code", data={"csrf_token": token, "email": codeless})
    assert asked.status_code == 200, asked.text
    code = await mailbox.code_for(codeless)
    entry = {"csrf_token": token, "email": codeless, "code": code}
    assert (await client.post("/login/confirm", data=entry)).status_code == 303
    csrf = csrf_of((await client.get("/app/account")).text)
    first = {"csrf_token": csrf, "password": NEW_PASSWORD}
    assert (await client.post("/app/account/password", data=first)).status_code == 303
    [notice] = await notices(container, mailbox, codeless)  # none for the confirmation
    assert notice.subject == "Tenantry: A password was set on your account"
    assert_wasnt_you_guidance(notice, user_agent=client.headers["user-agent"])


async def test_password_resets_are_mailed_from_the_api_and_the_reset_page(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox, ann: Account
) -> None:
    forgot = await client.post("/v1/auth/password/forgot", json={"email": ann.email})
    assert forgot.status_code == 202
    code = await mailbox.code_for(ann.email, count=2)
    reset = await client.post(
        "/v1/auth/password/reset",
        json={"email": ann.email, "code": code, "password": NEW_PASSWORD},
    )
    assert reset.status_code == 204, reset.text
    [notice] = await notices(container, mailbox, ann.email)
    assert notice.subject == "Tenantry: Your password was reset"
    assert "every session of your account was signed out" in notice.text
    assert_wasnt_you_guidance(notice, user_agent=client.headers["user-agent"])

    token = csrf_of((await client.get("/login/forgot")).text)
    asked = await client.post("/login/forgot", data={"csrf_token": token, "email": ann.email})
    assert asked.status_code == 200, asked.text
    code = await mailbox.code_for(ann.email, count=4)
    form = {"csrf_token": token, "email": ann.email, "code": code, "password": PASSWORD}
    assert (await client.post("/login/reset", data=form)).status_code == 303
    subjects = [m.subject for m in await notices(container, mailbox, ann.email)]
    assert subjects == ["Tenantry: Your password was reset"] * 2


async def test_no_notice_for_the_first_sign_in_a_known_device_or_a_refresh(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox, ann: Account
) -> None:
    # Ann's account was confirmed (her first sign-in) by this client's device.
    again = await login(client, ann.email, client.headers["user-agent"])
    assert again.status_code == 200, again.text
    refreshed = await client.post(
        "/v1/auth/refresh",
        json={"refresh_token": ann.refresh_token},
        headers={"User-Agent": FIREFOX},
    )
    assert refreshed.status_code == 200, refreshed.text
    assert await notices(container, mailbox, ann.email) == []
    assert await count_rows(container.db, KnownDevice) == 1


async def test_a_new_device_or_network_is_mailed_once(
    client: httpx.AsyncClient,
    container: Container,
    mailbox: Mailbox,
    ann: Account,
) -> None:
    assert (await login(client, ann.email, FIREFOX)).status_code == 200
    [notice] = await notices(container, mailbox, ann.email)
    assert notice.subject == NEW_DEVICE
    assert "signed in to from a device or network it had not been signed in from" in notice.text
    assert_wasnt_you_guidance(notice, user_agent=FIREFOX)

    assert (await login(client, ann.email, FIREFOX_UPDATED)).status_code == 200
    await web_sign_in(client, ann.email, FIREFOX)  # the pages: the same device
    assert len(await notices(container, mailbox, ann.email)) == 1

    assert (await login(client, ann.email, "curl/8.5.0")).status_code == 200
    assert len(await notices(container, mailbox, ann.email)) == 2
    await web_sign_in(client, ann.email, "Mozilla/5.0 (Macintosh) Safari/605.1.15")
    assert len(await notices(container, mailbox, ann.email)) == 3


async def test_another_network_is_a_new_device(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox, ann: Account
) -> None:
    agent = client.headers["user-agent"]
    # 127.0.0.1 signed up: its /24 is known; IPv6 networks are /48s
    peers = {"127.0.0.200": 0, "198.51.100.7": 1, "2001:db8:1::7": 2, "2001:db8:1:ff::9": 2}
    for peer, mailed in peers.items():
        transport = httpx.ASGITransport(app=create_app(container), client=(peer, 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as there:
            assert (await login(there, ann.email, agent)).status_code == 200
        assert len(await notices(container, mailbox, ann.email)) == mailed, peer


async def test_parallel_sign_ins_from_one_new_device_send_one_notice(
    client: httpx.AsyncClient, container: Container, mailbox: Mailbox, ann: Account
) -> None:
    signed = await asyncio.gather(*(login(client, ann.email, FIREFOX) for _ in range(6)))
    assert [response.status_code for response in signed] == [200] * 6
    subjects = [m.subject for m in await notices(container, mailbox, ann.email)]
    assert subjects == [NEW_DEVICE]
    assert await count_rows(container.db, KnownDevice) == 2


async def test_devices_unseen_for_long_are_forgotten_but_the_latest(
    client: httpx.AsyncClient,
    container: Container,
    clock: ShiftableClock,
    mailbox: Mailbox,
    ann: Account,
) -> None:
    assert (await login(client, ann.email, FIREFOX)).status_code == 200
    assert len(await notices(container, mailbox, ann.email)) == 1
    clock.advance(FORGET_AFTER.total_seconds() + 60)
    purged = await purge_spent_credentials(
        container.db, now=clock.now(), throttle_window=container.settings.throttle_window
    )
    assert purged.known_devices == 1  # the first; Firefox, the latest, stays
    assert (await login(client, ann.email, FIREFOX)).status_code == 200
    assert len(await notices(container, mailbox, ann.email)) == 1
    assert (await login(client, ann.email, client.headers["user-agent"])).status_code == 200
    assert len(await notices(container, mailbox, ann.email)) == 2
