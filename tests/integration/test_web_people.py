"""Members, invitations and the invitation landing page in headless Debian chromium against a
real server (SPEC §6, §7, §11): an owner invites a teammate on the members page, the teammate
opens the mailed link, signs up inline with the mailed code, comes back and accepts; the owner
changes their role, hits the last-owner rule and removes them, and the teammate's next page
shows the access is gone. Also: the wrong account, declining, resend and revoke, dead links,
external `next` paths ignored, and CSRF-less posts refused. Screenshots go to docs/screenshots/."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tenantry.settings import Settings
from tenantry.transports.web.destinations import safe_next
from tests.support.api import create_organization, mailed_invitation_token, register
from tests.support.browser import chromium, password_sign_in, screenshot, session_cookie
from tests.support.mailbox import Mailbox
from tests.support.server import running_server

pytestmark = pytest.mark.integration
TOM = "tom@example.com"
ZOE = "zoe@example.com"
AMY = "amy@example.com"
SESSION = "tenantry_session"


async def invite_on_page(page: Any, emails: str, role: str) -> None:
    await page.get_by_label("Email addresses").fill(emails)
    await page.get_by_label("Role", exact=True).select_option(role)
    await page.get_by_role("button", name="Send invitations").click()
    await page.wait_for_url(re.compile(r".*/invitations$"))


async def sign_up_inline(page: Any, mailbox: Mailbox, email: str, *, codes_before: int) -> None:
    """From the landing page's form through the entry flow with a mailed code."""
    await page.get_by_role("button", name="Continue").click()
    await page.get_by_role("button", name="Email me a code instead").click()
    code = await mailbox.code_for(email, count=codes_before + 1)
    await page.get_by_label("Code").fill(code)
    await page.get_by_role("button", name="Continue").click()
    await page.wait_for_url(re.compile(r".*/invite\?token=.*"))


async def test_invite_accept_change_role_and_remove(settings: Settings, mailbox: Mailbox) -> None:
    with running_server(settings) as base:
        async with httpx.AsyncClient(base_url=base) as api:
            owner = await register(api, mailbox, "olga@example.com", name="Olga")
            org = await create_organization(api, owner, "Olga Corp")
            async with chromium() as browser:
                page = await (await browser.new_context()).new_page()
                await password_sign_in(page, base, owner.email, owner.password)
                await page.goto(f"{base}/app/t/{org}")
                await page.get_by_role("link", name="Members").click()
                await page.wait_for_url(f"{base}/app/t/{org}/members")
                await screenshot(page, "members")
                await invite_on_page(page, TOM, "editor")
                link = await page.locator("#link-1").inner_text()
                assert "/invite?token=inv" in link
                await page.get_by_role("button", name=f"Copy the link for {TOM}").wait_for()
                await screenshot(page, "members-invited")
                token = await mailed_invitation_token(mailbox, TOM)
                assert link.endswith(token)

                tom_context = await browser.new_context()
                tom = await tom_context.new_page()
                await tom.goto(f"{base}/invite?token={token}")
                main = await tom.locator("main").inner_text()
                assert "Olga invited you" in main and "Olga Corp" in main and "editor" in main
                assert await tom.get_by_label("Email address").input_value() == TOM
                await screenshot(tom, "invite-preview")
                await sign_up_inline(tom, mailbox, TOM, codes_before=1)
                await screenshot(tom, "invite-accept")
                await tom.get_by_role("button", name="Accept and join").click()
                await tom.wait_for_url(f"{base}/app/t/{org}?notice=invitation_accepted")
                assert await tom.get_by_role("heading", level=1).inner_text() == "Olga Corp"
                await tom.get_by_text("You joined the tenant.").wait_for()

                await page.goto(f"{base}/app/t/{org}/members")
                assert "accepted" in await page.locator("main").inner_text()
                await page.get_by_label(f"Role of {TOM}", exact=True).select_option("viewer")
                await page.get_by_role("button", name=f"Change the role of {TOM}").click()
                await page.get_by_text("The role is changed.").wait_for()
                members = (await api.get("/v1/members", headers=owner.headers(org))).json()
                assert {m["email"]: m["role"] for m in members["items"]}[TOM] == "viewer"
                await tom.goto(f"{base}/app/t/{org}/members")
                assert not await tom.get_by_role("button", name="Send invitations").count()
                assert not await tom.get_by_role("button", name=f"Remove {owner.email}").count()

                await page.get_by_role("button", name="Leave tenant").click()
                alert = await page.get_by_role("alert").inner_text()
                assert alert == "A tenant needs at least one owner."
                await screenshot(page, "members-last-owner")
                await page.get_by_role("button", name=f"Remove {TOM}").click()
                await page.get_by_text("The member is removed.").wait_for()
                assert TOM not in await page.locator("table").first.inner_text()

                gone = await tom.reload()
                assert gone is not None and gone.status == 403
                heading = await tom.get_by_role("heading", level=1).inner_text()
                assert heading == "You no longer have access to this tenant"


async def test_wrong_account_decline_resend_revoke_and_refusals(
    settings: Settings, mailbox: Mailbox
) -> None:
    with running_server(settings) as base:
        async with httpx.AsyncClient(base_url=base) as api:
            owner = await register(api, mailbox, "olga@example.com", name="Olga")
            other = await register(api, mailbox, "max@example.com", name="Max")
            org = await create_organization(api, owner, "Olga Corp")
            async with chromium() as browser:
                owner_context = await browser.new_context()
                page = await owner_context.new_page()
                await password_sign_in(page, base, owner.email, owner.password)
                await page.goto(f"{base}/app/t/{org}/members")
                await invite_on_page(page, f"{ZOE}, {AMY}\nnot-an-address", "viewer")
                main = await page.locator("main").inner_text()
                assert "not-an-address: Not a valid email address." in main
                zoe_token = await mailed_invitation_token(mailbox, ZOE)
                amy_token = await mailed_invitation_token(mailbox, AMY)

                max_page = await (await browser.new_context()).new_page()
                await password_sign_in(max_page, base, other.email, other.password)
                await max_page.goto(f"{base}/invite?token={zoe_token}")
                await max_page.get_by_role(
                    "heading", name="This invitation is for another address"
                ).wait_for()
                assert not await max_page.get_by_role("button", name="Accept and join").count()
                await screenshot(max_page, "invite-wrong-account")
                await max_page.get_by_role("button", name="Sign out and switch account").click()
                await max_page.get_by_text("You are signed out.").wait_for()
                await max_page.get_by_label("Email address").fill(ZOE)
                await sign_up_inline(max_page, mailbox, ZOE, codes_before=1)
                await max_page.get_by_role("button", name="Decline").click()
                await max_page.get_by_text("You declined the invitation.").wait_for()
                await max_page.get_by_text("This invitation was declined.").wait_for()
                await screenshot(max_page, "invite-declined")

                await page.goto(f"{base}/app/t/{org}/members")
                await page.get_by_role("button", name=f"Resend the invitation to {AMY}").click()
                await page.get_by_role("heading", name="Invitation sent").wait_for()
                new_amy = await mailed_invitation_token(mailbox, AMY, nth=2)
                assert new_amy != amy_token
                anyone = await (await browser.new_context()).new_page()
                dead = await anyone.goto(f"{base}/invite?token={amy_token}")
                assert dead is not None and dead.status == 404
                await anyone.get_by_role(
                    "heading", name="This invitation link does not work"
                ).wait_for()
                await screenshot(anyone, "invite-invalid")
                await page.get_by_role("button", name=f"Revoke the invitation to {AMY}").click()
                await page.get_by_text("The invitation is revoked.").wait_for()
                statuses = await page.locator("table").nth(1).inner_text()
                assert "declined" in statuses and "revoked" in statuses
                await screenshot(page, "members-invitations")
                revoked = await anyone.goto(f"{base}/invite?token={new_amy}")
                assert revoked is not None and revoked.status == 410
                await anyone.get_by_text("This invitation was withdrawn.").wait_for()

                cookie = await session_cookie(owner_context)
                assert cookie is not None
                await refused_and_redirects(base, cookie["value"], org, owner.user_id)


async def refused_and_redirects(base: str, cookie: str, org: str, user_id: str) -> None:
    """Posts without the CSRF token change nothing; `next` never leaves the site."""
    async with httpx.AsyncClient(base_url=base, cookies={SESSION: cookie}) as http:
        for path in (
            f"/app/t/{org}/members/{user_id}/remove",
            f"/app/t/{org}/members/{user_id}/role",
            f"/app/t/{org}/invitations",
        ):
            forged = await http.post(path, data={"role": "viewer", "emails": "eve@example.com"})
            assert forged.status_code == 403 and "Request refused" in forged.text, path
        listed = await http.get(f"/app/t/{org}/members")
        assert "eve@example.com" not in listed.text and "owner" in listed.text
        for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example/"):
            away = await http.get("/login", params={"next": evil})
            assert away.status_code == 303 and away.headers["location"] == "/app", evil
        home = await http.get("/login", params={"next": "/app/account"})
        assert home.headers["location"] == "/app/account"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/invite?token=inv_x", "/invite?token=inv_x"),
        ("/app/account", "/app/account"),
        ("", "/app"),
        ("https://evil.example/", "/app"),
        ("//evil.example", "/app"),
        ("/\\evil.example", "/app"),
        ("javascript:alert(1)", "/app"),
        ("/app\n/x", "/app"),
        ("/" + "a" * 3000, "/app"),
    ],
)
def test_next_stays_on_the_site(raw: str, expected: str) -> None:
    assert safe_next(raw) == expected
