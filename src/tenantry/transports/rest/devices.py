"""The device cookie: the device token of the last sign-in (domain/identity/devices.py), which
the client presents at its next one to be counted apart from strangers. HttpOnly and, under
https, `__Host-` (Secure, Path=/, no Domain) so no other site or subdomain can plant one."""

from __future__ import annotations

from fastapi import Request, Response

from tenantry.domain.identity.deps import TokenPair
from tenantry.settings import Settings

DEVICE_COOKIE = "tenantry_device"
DEVICE_COOKIE_AGE = 365 * 86_400


def device_cookie_name(settings: Settings) -> str:
    https = settings.public_url.startswith("https://")
    return f"__Host-{DEVICE_COOKIE}" if https else DEVICE_COOKIE


def presented_device(request: Request, settings: Settings) -> str | None:
    return request.cookies.get(device_cookie_name(settings))


def remember_device(response: Response, settings: Settings, pair: TokenPair) -> None:
    """Hand the sign-in's device token to the client."""
    if pair.device_token is None:
        return
    response.set_cookie(
        device_cookie_name(settings),
        pair.device_token,
        max_age=DEVICE_COOKIE_AGE,
        path="/",
        secure=settings.public_url.startswith("https://"),
        httponly=True,
        samesite="lax",
    )
