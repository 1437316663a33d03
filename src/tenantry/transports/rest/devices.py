"""The device cookie: the device token of the last sign-in (domain/identity/devices.py), which
the client presents at its next one to be counted apart from strangers. HttpOnly and, under
https, `__Host-` (cookies.cookie_name)."""

from __future__ import annotations

from fastapi import Request, Response

from tenantry.domain.identity.toolkit import TokenPair
from tenantry.settings import Settings
from tenantry.transports.rest.cookies import cookie_name, secure_cookies

DEVICE_COOKIE = "tenantry_device"
DEVICE_COOKIE_AGE = 365 * 86_400


def presented_device(request: Request, settings: Settings) -> str | None:
    return request.cookies.get(cookie_name(settings, DEVICE_COOKIE))


def remember_device(response: Response, settings: Settings, pair: TokenPair) -> None:
    """Hand the sign-in's device token to the client."""
    if pair.device_token is None:
        return
    response.set_cookie(
        cookie_name(settings, DEVICE_COOKIE),
        pair.device_token,
        max_age=DEVICE_COOKIE_AGE,
        path="/",
        secure=secure_cookies(settings),
        httponly=True,
        samesite="lax",
    )
