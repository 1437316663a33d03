"""The web entry flow and app shell in headless Debian chromium against a real server
(SPEC §11): continue with email, sign up with a mailed code, set a password, sign out and in,
the generic wrong-password error, the same next page for unknown addresses, forgot/reset (which
keep where the visitor was going),
session fixation, cookie flags and CSP, switching tenants, an evicted member losing access on
the next page, and CSRF-less or cross-site form posts refused. Every page visited is saved
to docs/screenshots/."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tenantry.settings import Settings
from tests.support.api import Account, create_organization, invite_and_join, register, sign_in
from tests.support.browser import (
    SESSION,
    chromium,
    continue_with,
    password_sign_in,
    screenshot,
    session_cookie,
)
from tests.support.mailbox import Mailbox
from tests.support.server import running_server

pytestmark = pytest.mark.integration
NINA = "nina@example.com"
NINA_PASSWORD = "a long web passphrase of hers"
NINA_RESET = "a brand new passphrase for her"


async def test_sign_up_with_a_code_then_password_fixation_and_reset(
    settings: Settings, mailbox: Mailbox
) -> None:
    with running_server(settings) as base:
        async with chromium() as browser:
            context = await browser.new_context()
            page = await context.new_page()
            first = await page.goto(f"{base}/")
            assert first is not None and first.url == f"{base}/login"
            headers = await first.all_headers()
            assert "frame-ancestors 'none'" in headers["content-security-policy"]
            assert headers["x-content-type-options"] == "nosniff"
            await screenshot(page, "login")

            new_text = await continue_with(page, base, NINA)
            await screenshot(page, "login-next")
            await page.get_by_role("button", name="Email me a code instead").click()
            await page.get_by_label("Code").wait_for()
            await screenshot(page, "login-code")
            await page.get_by_label("Code").fill(await mailbox.code_for(NINA))
            planted = {"name": SESSION, "value": "chosen-by-an-attacker", "url": base}
            await context.add_cookies([planted])
            await page.get_by_role("button", name="Continue").click()
            # A new account lands on its onboarding wizard (test_web_onboarding.py), once.
            await page.wait_for_url(re.compile(r".*/app/t/[0-9a-f-]+/onboarding$"))
            await page.get_by_role("link", name="Overview").click()
            await page.wait_for_url(re.compile(r".*/app/t/[0-9a-f-]+$"))
            assert await page.get_by_role("heading", level=1).inner_text() == "nina's workspace"
            main = await page.locator("main").inner_text()
            assert "free" in main and "owner" in main and "My first project" in main
            await screenshot(page, "dashboard")
            cookie = await session_cookie(context)
            assert cookie is not None and cookie["value"] != "chosen-by-an-attacker"
            assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
            assert not cookie["secure"]  # the public URL is http here
            code_session = cookie["value"]

            await page.goto(f"{base}/app/account")
            await page.get_by_role("heading", name="Set a password").wait_for()
            await page.get_by_label("New password").fill(NINA_PASSWORD)
            await page.get_by_role("button", name="Set password").click()
            await page.get_by_text("Your password is saved.").wait_for()
            await screenshot(page, "account")
            await page.get_by_role("button", name="Sign out", exact=True).click()
            await page.get_by_text("You are signed out.").wait_for()
            await screenshot(page, "signed-out")
            assert await session_cookie(context) is None
            await page.goto(f"{base}/app")
            assert page.url == f"{base}/login"

            await continue_with(page, base, NINA)
            await page.get_by_label("Password", exact=True).fill("not her password at all")
            await page.get_by_role("button", name="Sign in", exact=True).click()
            await page.get_by_role("alert").wait_for()
            assert await page.get_by_role("alert").inner_text() == "Incorrect email or password."
            await screenshot(page, "login-wrong-password")
            await page.get_by_label("Password", exact=True).fill(NINA_PASSWORD)
            await page.get_by_role("button", name="Sign in", exact=True).click()
            await page.wait_for_url(re.compile(r".*/app/t/[0-9a-f-]+$"))
            cookie = await session_cookie(context)
            assert cookie is not None and cookie["value"] != code_session
            await page.get_by_role("button", name="Sign out", exact=True).click()
            await page.get_by_text("You are signed out.").wait_for()

            unknown_text = await continue_with(page, base, "nobody@example.com")
            assert unknown_text.replace("nobody@example.com", NINA) == new_text

            await continue_with(page, base, NINA)
            await page.get_by_role("link", name="Forgot your password?").click()
            assert await page.get_by_label("Email address").input_value() == NINA
            await screenshot(page, "forgot")
            mailed = len(mailbox.messages(NINA))
            await page.get_by_role("button", name="Email me a reset code").click()
            await page.get_by_label("New password").wait_for()
            await screenshot(page, "reset")
            await page.get_by_label("Code").fill(await mailbox.code_for(NINA, count=mailed + 1))
            await page.get_by_label("New password").fill(NINA_RESET)
            await page.get_by_role("button", name="Set the new password").click()
            await page.get_by_text("Your password is reset.").wait_for()
            await password_sign_in(page, base, NINA, NINA_RESET)


async def test_a_password_reset_keeps_where_the_visitor_was_going(
    settings: Settings, mailbox: Mailbox
) -> None:
    with running_server(settings) as base:
        async with httpx.AsyncClient(base_url=base) as api:
            owner = await register(api, mailbox, "rita@example.com", name="Rita")
        async with chromium() as browser:
            page = await (await browser.new_context()).new_page()
            await page.goto(f"{base}/app/account")
            await page.wait_for_url(f"{base}/login?next=%2Fapp%2Faccount")
            await page.get_by_label("Email address").fill(owner.email)
            await page.get_by_role("button", name="Continue").click()
            await page.get_by_role("link", name="Forgot your password?").click()
            await page.wait_for_url(re.compile(r".*/login/forgot\?email=.*&next=/app/account$"))
            mailed = len(mailbox.messages(owner.email))
            await page.get_by_role("button", name="Email me a reset code").click()
            code = await mailbox.code_for(owner.email, count=mailed + 1)
            await page.get_by_label("Code").fill(code)
            await page.get_by_label("New password").fill(NINA_RESET)
            await page.get_by_role("button", name="Set the new password").click()
            await page.get_by_text("Your password is reset.").wait_for()
            assert page.url.endswith("/login?notice=password_reset&next=%2Fapp%2Faccount")
            await page.get_by_label("Email address").fill(owner.email)
            await page.get_by_role("button", name="Continue").click()
            await page.get_by_label("Password", exact=True).fill(NINA_RESET)
            await page.get_by_role("button", name="Sign in", exact=True).click()
            await page.wait_for_url(f"{base}/app/account")

            # a crafted next never leaves the site, on the reset path too
            await page.goto(f"{base}/login/forgot?next=//evil.example/")
            assert not await page.locator("input[name=next]").count()


async def test_switching_tenants_eviction_and_refused_forms(
    settings: Settings, mailbox: Mailbox
) -> None:
    with running_server(settings) as base:
        async with httpx.AsyncClient(base_url=base) as api:
            owner = await register(api, mailbox, "olga@example.com", name="Olga")
            member = await register(api, mailbox, "max@example.com", name="Max")
            org = await create_organization(api, owner, "Olga Corp")
            await invite_and_join(api, mailbox, owner, member, org, "editor")
            async with chromium() as browser:
                olga = await browser.new_context()
                page = await olga.new_page()
                await password_sign_in(page, base, owner.email, owner.password)
                assert page.url.endswith(f"/app/t/{owner.tenant_id}")
                await page.get_by_label("Tenant").select_option(label="Olga Corp")
                await page.get_by_role("button", name="Switch").click()
                await page.wait_for_url(f"{base}/app/t/{org}")
                await page.goto(f"{base}/app")
                assert page.url == f"{base}/app/t/{org}"  # the choice is the default now
                assert await page.get_by_role("heading", level=1).inner_text() == "Olga Corp"
                await screenshot(page, "dashboard-organization")
                me = await api.get("/v1/me", headers=owner.headers())
                assert me.json()["default_tenant_id"] == org

                max_context = await browser.new_context()
                max_page = await max_context.new_page()
                await password_sign_in(max_page, base, member.email, member.password)
                await max_page.goto(f"{base}/app/t/{org}")
                assert "editor" in await max_page.locator("main").inner_text()
                evicted = await api.delete(
                    f"/v1/members/{member.user_id}", headers=owner.headers(org)
                )
                assert evicted.status_code == 204, evicted.text
                gone = await max_page.reload()
                assert gone is not None and gone.status == 403
                heading = max_page.get_by_role("heading", level=1)
                assert await heading.inner_text() == "You no longer have access to this tenant"
                await screenshot(max_page, "tenant-access-gone")

                await refused_posts(api, olga, page, base, owner)


async def refused_posts(
    api: httpx.AsyncClient, context: Any, page: Any, base: str, owner: Account
) -> None:
    """A form post with the session cookie but no token, and one from another site."""
    cookie = await session_cookie(context)
    assert cookie is not None
    async with httpx.AsyncClient(base_url=base, cookies={SESSION: cookie["value"]}) as http:
        forged = await http.post("/app/account/name", data={"name": "Mallory"})
    assert forged.status_code == 403 and "Request refused" in forged.text
    await page.set_content(
        f'<form method="post" action="{base}/app/account/name">'
        '<input name="name" value="Mallory"><button>Go</button></form>'
    )
    async with page.expect_navigation():
        await page.get_by_role("button", name="Go").click()
    assert await page.get_by_role("heading", level=1).inner_text() == "Request refused"
    await screenshot(page, "request-refused")
    fresh = await sign_in(api, owner.email, owner.password)
    me = await api.get("/v1/me", headers=fresh.headers())
    assert me.json()["name"] == "Olga"
