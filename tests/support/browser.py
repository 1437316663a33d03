"""Headless Debian chromium through Playwright, for the browser tests: found or skipped loudly
(a failure under CI=true), and full-page screenshots saved to docs/screenshots/."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
NO_CHROMIUM = (
    "BROWSER TEST SKIPPED: Debian's chromium is not installed at /usr/bin/chromium (or the "
    "playwright package is missing); `make test` installs both. Under CI=true this is a failure."
)
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
