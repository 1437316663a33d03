"""The snippet in a real browser (SPEC §6, §10): a page on another origin carrying an
environment's snippet loads `/sdk.js` from a real Tenantry server, and the SDK's `page_view`
crosses CORS to `POST /v1/collect` and shows in the environment's events. Headless Debian
`chromium` driven by Playwright; `make test` installs it when missing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tenantry.domain.accounts.environments import snippet
from tenantry.settings import Settings
from tests.support.api import Account
from tests.support.browser import chromium_or_skip
from tests.support.server import running_server

pytestmark = pytest.mark.integration


@contextmanager
def page_server(directory: Path) -> Iterator[str]:
    """Serve `directory` over HTTP on another port: another origin than the API's."""
    handler = partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _is_collect_post(response: Any) -> bool:
    return bool(response.url.endswith("/v1/collect") and response.request.method == "POST")


async def page_views(api: str, account: Account, path: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=api) as http:
        for _ in range(100):
            response = await http.get(path, headers=account.headers())
            assert response.status_code == 200, response.text
            items = [i for i in response.json()["items"] if i["type"] == "page_view"]
            if items:
                return items
            await asyncio.sleep(0.1)
    return []


async def test_the_snippet_sends_a_page_view_from_another_origin(
    settings: Settings, client: httpx.AsyncClient, ann: Account, tmp_path: Path
) -> None:
    executable = chromium_or_skip()
    from playwright.async_api import async_playwright

    project = (await client.get("/v1/projects", headers=ann.headers())).json()["items"][0]
    environments = f"/v1/projects/{project['id']}/environments"
    env = (await client.get(environments, headers=ann.headers())).json()["items"][0]
    site = tmp_path / "site"
    site.mkdir()
    with running_server(settings) as api:
        tag = snippet(public_url=api, client_key=env["client_key"])
        (site / "index.html").write_text(
            f"<!doctype html><html><head><title>Shop</title>{tag}</head><body>hi</body></html>"
        )
        with page_server(site) as origin:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=executable)
                try:
                    page = await browser.new_page()
                    posted = _is_collect_post
                    async with page.expect_response(posted) as collected:
                        await page.goto(f"{origin}/index.html")
                    response = await collected.value
                    assert response.status == 202
                    assert await response.header_value("access-control-allow-origin") == "*"
                    assert await page.evaluate("typeof window.tenantry.track") == "function"
                finally:
                    await browser.close()
        [view] = await page_views(api, ann, f"{environments}/{env['id']}/events")
    assert view["data"]["url"] == f"{origin}/index.html"
    assert view["data"]["title"] == "Shop"
