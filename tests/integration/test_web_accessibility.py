"""The pages are responsive and accessible (SPEC §11), checked in headless Debian chromium on
every main page of the app and the admin console: at a phone's width nothing overflows
sideways; every visible form control has a label; text, muted text, links and buttons reach
WCAG AA contrast (4.5:1) and the focus ring 3:1; and a keyboard alone can sign in (autofocus,
the ring on the focused field, Enter submits), then the first Tab reaches "Skip to content",
which moves on into the page's content. Phone-sized
screenshots go to docs/screenshots/phone-*.png."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tenantry.settings import Settings
from tests.integration.test_web_admin import OPERATOR, OPERATOR_PASSWORD, make_operator
from tests.support.api import register
from tests.support.browser import chromium, password_sign_in, screenshot
from tests.support.mailbox import Mailbox
from tests.support.server import running_server

pytestmark = pytest.mark.integration
PHONE = {"width": 375, "height": 740}

# The WCAG relative luminance and contrast ratio of two CSS colors as the browser computed
# them (`rgb(...)` / `rgba(...)`); a transparent background is the nearest opaque ancestor's.
CONTRAST_JS = """
() => {
  const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => {
    const linear = [r, g, b].map((c) => {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2];
  };
  const ratio = (a, b) => {
    const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const color = rgb(getComputedStyle(node).backgroundColor);
      if (color.length < 4 || color[3] > 0) return color.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const failures = [];
  const selector = "h1, h2, p, td, th, dt, dd, label, a, button, li, .muted, .hint, .status";
  for (const el of document.querySelectorAll(selector)) {
    if (!el.offsetParent || !el.textContent.trim()) continue;
    if (el.closest(".skip-link")) continue;
    const style = getComputedStyle(el);
    const value = ratio(rgb(style.color).slice(0, 3), background(el));
    const text = el.textContent.trim().slice(0, 30);
    if (value < 4.5) failures.push(`${el.tagName}.${el.className} "${text}" ${value.toFixed(2)}`);
  }
  return failures;
}
"""

UNLABELLED_JS = """
() => [...document.querySelectorAll("input, select, textarea")]
  .filter((el) => el.type !== "hidden" && el.offsetParent !== null)
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label")
    && !el.getAttribute("aria-labelledby"))
  .map((el) => el.outerHTML.slice(0, 80))
"""

# The elements that stick out past the right edge of the viewport (none on a good page).
OVERFLOW_JS = """
() => [...document.querySelectorAll("body *")]
  .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .filter((el) => !el.closest(".table, pre, .skip-link"))
  .map((el) => `${el.tagName}.${el.className}`)
"""


async def check_page(page: Any, url: str, name: str) -> None:
    response = await page.goto(url)
    assert response is not None and response.status == 200, url
    assert await page.evaluate(UNLABELLED_JS) == [], url
    assert await page.evaluate(CONTRAST_JS) == [], url
    await page.set_viewport_size(PHONE)
    assert await page.evaluate(OVERFLOW_JS) == [], f"{url} scrolls sideways on a phone"
    width = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    assert await page.evaluate(width) <= 0, f"{url} scrolls sideways on a phone"
    await screenshot(page, f"phone-{name}")
    await page.set_viewport_size({"width": 1280, "height": 800})


async def test_main_pages_are_responsive_labelled_and_legible(
    settings: Settings, mailbox: Mailbox
) -> None:
    with running_server(settings) as base:
        async with httpx.AsyncClient(base_url=base) as api:
            owner = await register(api, mailbox, "ada@example.com", name="Ada")
            listed = (await api.get("/v1/projects", headers=owner.headers())).json()["items"]
            team = await api.post("/v1/teams", json={"name": "Core"}, headers=owner.headers())
            assert team.status_code == 201, team.text
        await make_operator(settings)
        tenant = f"{base}/app/t/{owner.tenant_id}"
        async with chromium() as browser:
            page = await (await browser.new_context()).new_page()
            await check_page(page, f"{base}/login", "login")
            await password_sign_in(page, base, owner.email, owner.password)
            pages = {
                "dashboard": tenant,
                "onboarding": f"{tenant}/onboarding",
                "members": f"{tenant}/members",
                "projects": f"{tenant}/projects",
                "project": f"{tenant}/projects/{listed[0]['id']}",
                "teams": f"{tenant}/teams",
                "team": f"{tenant}/teams/{team.json()['id']}",
                "account": f"{base}/app/account",
                "organization-new": f"{base}/app/organizations/new",
            }
            for name, url in pages.items():
                await check_page(page, url, name)

            operator = await (await browser.new_context()).new_page()
            await password_sign_in(operator, base, OPERATOR, OPERATOR_PASSWORD)
            admin_pages = {
                "admin-tenants": f"{base}/admin",
                "admin-tenant": f"{base}/admin/tenants/{owner.tenant_id}",
                "admin-users": f"{base}/admin/users?q=ada",
                "admin-new": f"{base}/admin/tenants/new",
            }
            for name, url in admin_pages.items():
                await check_page(operator, url, name)


async def test_a_keyboard_alone_signs_in(settings: Settings, mailbox: Mailbox) -> None:
    with running_server(settings) as base:
        async with httpx.AsyncClient(base_url=base) as api:
            owner = await register(api, mailbox, "kay@example.com", name="Kay")
        async with chromium() as browser:
            page = await (await browser.new_context()).new_page()
            await page.goto(f"{base}/login")
            focused = page.locator(":focus")
            assert await focused.get_attribute("name") == "email"  # autofocus
            ring = await focused.evaluate(
                "el => [getComputedStyle(el).outlineStyle, getComputedStyle(el).outlineColor]"
            )
            assert ring[0] == "solid"
            assert (
                await page.evaluate(
                    """(color) => {
                  const rgb = color.match(/[\\d.]+/g).slice(0, 3).map(Number).map((c) => {
                    c /= 255;
                    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
                  });
                  const l = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
                  return 1.05 / (l + 0.05);
                }""",
                    ring[1],
                )
                >= 3
            ), "the focus ring must stand out 3:1 against the white page"
            await page.keyboard.type(owner.email)
            await page.keyboard.press("Enter")
            await page.get_by_role("heading", name="Sign in with your password").wait_for()
            assert await focused.get_attribute("name") == "password"  # autofocus
            await page.keyboard.type(owner.password)
            await page.keyboard.press("Enter")
            await page.wait_for_url(f"{base}/app/t/{owner.tenant_id}")

            # on a page without autofocus the first Tab reaches the skip link
            await page.keyboard.press("Tab")
            assert await focused.inner_text() == "Skip to content"
            assert await focused.is_visible()
            await page.keyboard.press("Enter")
            await page.keyboard.press("Tab")
            assert await focused.evaluate("el => el.closest('main') !== null")
