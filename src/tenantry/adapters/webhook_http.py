"""One HTTP attempt at a webhook delivery, to the address the SSRF guard
(`tenantry.domain.webhooks.targets`) checked: no redirects, short timeouts, no proxies from the
environment, and only the first KiB of the answer read."""

from __future__ import annotations

import asyncio
import ssl
import time

import httpx

from tenantry.domain.webhooks.sender import ATTEMPT_SECONDS, AttemptResult
from tenantry.domain.webhooks.targets import Target, TargetRefused, resolve

EXCERPT_BYTES = 1024
TIMEOUT = httpx.Timeout(10.0, connect=3.0)


def new_http_client(*, verify: ssl.SSLContext | bool = True) -> httpx.AsyncClient:
    """`verify`: the TLS trust (tests pass a context trusting their own CA)."""
    # trust_env=False: an HTTP(S)_PROXY variable would carry the request past the address
    # check to whatever the proxy resolves.
    return httpx.AsyncClient(
        timeout=TIMEOUT,
        follow_redirects=False,
        trust_env=False,
        verify=verify,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )


class WebhookSender:
    """The dispatcher's `WebhookPoster` over `http` (a `new_http_client`)."""

    def __init__(self, http: httpx.AsyncClient, *, allow_private: bool) -> None:
        self._http = http
        self._allow_private = allow_private

    async def send(self, url: str, *, headers: dict[str, str], body: bytes) -> AttemptResult:
        started = time.perf_counter()
        try:
            target = await resolve(url, allow_private=self._allow_private)
            async with asyncio.timeout(ATTEMPT_SECONDS):
                status, excerpt = await self._post(target, headers, body)
        except TargetRefused as refused:
            return _failed(started, f"refused: {refused.detail}")
        except TimeoutError:
            return _failed(started, "timed out")
        except httpx.HTTPError as error:
            return _failed(started, f"{type(error).__name__}: {error}")
        return AttemptResult(status, _elapsed_ms(started), excerpt, None)

    async def _post(self, target: Target, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        async with self._http.stream(
            "POST",
            target.url,
            content=body,
            headers={**headers, "host": _host_header(target), "user-agent": "Tenantry-Webhooks"},
            extensions={"sni_hostname": target.host},
        ) as response:
            excerpt = bytearray()
            async for chunk in response.aiter_raw():
                excerpt += chunk
                if len(excerpt) >= EXCERPT_BYTES:
                    break
            return response.status_code, bytes(excerpt[:EXCERPT_BYTES]).decode(errors="replace")


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    port = httpx.URL(target.url).port  # None when it is the scheme's default
    return host if port is None else f"{host}:{port}"


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _failed(started: float, error: str) -> AttemptResult:
    return AttemptResult(None, _elapsed_ms(started), None, error[:500])
