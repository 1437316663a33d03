"""Headless Debian chromium through Playwright, for the browser tests: found or skipped loudly
(a failure under CI=true), and full-page screenshots saved to docs/screenshots/."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
NO_CHROMIUM = (
    "BROWSER TEST SKIPPED: Debian's chromium is not installed at /usr/bin/chromium (or the "
    "playwright package is missing); `make test` installs both. Under CI=true this is a failure."
)
SESSION = "tenantry_session"  # the web session cookie
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def chromium_or_skip() -> str:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        found = None
    else:
        found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(NO_CHROMIUM)
        pytest.skip(NO_CHROMIUM)
    return found


async def screenshot(page: Any, name: str) -> None:
    """Save the whole page as docs/screenshots/<name>.png (overwritten on every run)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    executable = chromium_or_skip()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable)
        try:
            yield browser
        finally:
            await browser.close()


async def session_cookie(context: Any) -> dict[str, Any] | None:
    found = [c for c in await context.cookies() if c["name"] == SESSION]
    return found[0] if found else None


async def continue_with(page: Any, base: str, email: str) -> str:
    """Through the first page to the next; returns the next page's text."""
    await page.goto(f"{base}/login")
    await page.get_by_label("Email address").fill(email)
    await page.get_by_role("button", name="Continue").click()
    await page.get_by_role("heading", name="Sign in with your password").wait_for()
    text: str = await page.locator("main").inner_text()
    return text


async def password_sign_in(page: Any, base: str, email: str, password: str) -> None:
    await continue_with(page, base, email)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await page.wait_for_url(re.compile(r".*/app/t/[0-9a-f-]+$"))
