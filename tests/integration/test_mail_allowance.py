"""Mail an anonymous caller can have sent to one address (codes, the note that an account
exists, reset codes, registration codes) is limited per address and window, whether or not the
address has an account. Each code takes five tries, so the limit also bounds the guesses at an
account's codes: without it, asking for a new code every five wrong tries went on forever
(catalogue 12), and an address could be flooded with mail."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from tenantry.bootstrap import Container
from tests.support.api import PASSWORD, register
from tests.support.clock import ShiftableClock
from tests.support.mailbox import Mailbox

pytestmark = pytest.mark.integration


def email_code(client: httpx.AsyncClient, email: str) -> asyncio.Future[httpx.Response]:
    return asyncio.ensure_future(client.post("/v1/auth/email-code", json={"email": email}))


async def allowance(container: Container) -> int:
    return container.settings.address_mail_limit


async def registered(client: httpx.AsyncClient, mailbox: Mailbox, email: str) -> None:
    """A confirmed account; its sign-up mail used one of the address's allowance, and the
    clock stays where it is, so `remaining` is what is left. The client then forgets the
    device cookie of that sign-in: what follows is asked by a stranger at the same address."""
    await register(client, mailbox, email)
    client.cookies.clear()
    mailbox.clear()


async def remaining(container: Container) -> int:
    return await allowance(container) - 1


@pytest.mark.catalogue(12)
async def test_codes_stop_after_the_allowance_so_guessing_ends(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container
) -> None:
    await registered(client, mailbox, "victim@example.com")
    wrong_tries = 0
    for _ in range(await remaining(container)):
        assert (await email_code(client, "victim@example.com")).status_code == 202
        for guess in ("000000", "111111", "222222", "333333", "444444"):
            answer = await client.post(
                "/v1/auth/confirm", json={"email": "victim@example.com", "code": guess}
            )
            wrong_tries += answer.status_code == 400
    refused = await email_code(client, "victim@example.com")

    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "too_many_emails"
    assert 0 < int(refused.headers["Retry-After"]) <= container.settings.address_mail_window
    # every mailed code was burned by its five tries; no new code means no new guesses
    assert wrong_tries == 5 * await remaining(container)
    await asyncio.sleep(0.5)  # the mail worker has had its chance to send one more
    assert len(mailbox.messages("victim@example.com")) == await remaining(container)


@pytest.mark.catalogue(4)
async def test_the_limit_answers_alike_for_known_and_unknown_addresses(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container
) -> None:
    await registered(client, mailbox, "known@example.com")
    for _ in range(await remaining(container)):
        await email_code(client, "known@example.com")
    for _ in range(await allowance(container)):
        await email_code(client, "nobody@example.com")
    known = await email_code(client, "KNOWN@example.com")
    unknown = await email_code(client, "nobody@example.com")

    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert known.status_code == 429


async def test_every_mailing_route_draws_on_the_same_allowance(
    client: httpx.AsyncClient, mailbox: Mailbox, container: Container
) -> None:
    await registered(client, mailbox, "ann@example.com")
    routes = [
        ("/v1/auth/signup", {"email": "ann@example.com", "password": PASSWORD}),
        ("/v1/auth/password/forgot", {"email": "ann@example.com"}),
        ("/v1/auth/email-code", {"email": "ann@example.com"}),
        (
            "/v1/registrations",
            {
                "email": "ann@example.com",
                "password": PASSWORD,
                "name": "Ann",
                "tenant_name": "Acme",
                "plan": "free",
            },
        ),
    ]
    answers = [
        (await client.post(path, json=body)).status_code
        for n in range(await remaining(container))
        for path, body in [routes[n % len(routes)]]
    ]
    assert answers and set(answers) == {202}
    for path, body in routes:
        answer = await client.post(path, json=body)
        assert (answer.status_code, answer.json()["code"]) == (429, "too_many_emails"), path


async def test_parallel_requests_are_all_counted(
    client: httpx.AsyncClient, container: Container
) -> None:
    limit = await allowance(container)
    answers = await asyncio.gather(*(email_code(client, "rush@example.com") for _ in range(12)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [202] * limit + [429] * (12 - limit)


async def test_the_allowance_returns_when_its_window_has_passed(
    client: httpx.AsyncClient, container: Container, clock: ShiftableClock
) -> None:
    for _ in range(await allowance(container)):
        await email_code(client, "patient@example.com")
    assert (await email_code(client, "patient@example.com")).status_code == 429
    clock.advance(container.settings.address_mail_window + 1)
    assert (await email_code(client, "patient@example.com")).status_code == 202


@pytest.mark.parametrize(
    ("form", "heading"), [("/login/code", "Welcome"), ("/login/forgot", "Reset your password")]
)
async def test_the_web_pages_say_when_to_try_again(
    client: httpx.AsyncClient, container: Container, form: str, heading: str
) -> None:
    login = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert token is not None
    fields = {"email": "web@example.com", "csrf_token": token.group(1)}
    for _ in range(await allowance(container)):
        assert (await client.post(form, data=fields)).status_code == 200
    refused = await client.post(form, data=fields)

    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/html")
    assert int(refused.headers["Retry-After"]) > 0
    assert f"<h1>{heading}</h1>" in refused.text
    assert "Too many attempts. Try again in 60 minutes." in refused.text
