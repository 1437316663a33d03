"""Fetching an issuer's JWKS document over HTTP, bounded in time and size: a slow or huge
answer must not hold up or swamp the tokens waiting for the keys."""

from __future__ import annotations

import asyncio

import httpx

from tenantry.domain.identity.federation import JwksUnavailable

JWKS_FETCH_DEADLINE = 3.0  # seconds for the whole fetch, a slowly dripping body included
JWKS_MAX_BYTES = 256 * 1024


class HttpJwks:
    """`federation.JwksSource` over `http`."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def fetch(self, url: str) -> bytes:
        try:
            async with asyncio.timeout(JWKS_FETCH_DEADLINE):
                return await self._download(url)
        except (httpx.HTTPError, TimeoutError, ValueError) as error:
            raise JwksUnavailable(repr(error)) from error

    async def _download(self, url: str) -> bytes:
        async with self._http.stream("GET", url) as response:
            response.raise_for_status()
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > JWKS_MAX_BYTES:
                    raise ValueError(f"JWKS larger than {JWKS_MAX_BYTES} bytes")
            return bytes(body)
