"""Cookie names and flags shared by the API's and the pages' cookies."""

from __future__ import annotations

from tenantry.settings import Settings


def secure_cookies(settings: Settings) -> bool:
    return settings.public_url.startswith("https://")


def cookie_name(settings: Settings, name: str) -> str:
    """`__Host-<name>` when the public URL is https: a browser keeps such a cookie only if it
    is Secure, for Path=/ and without a Domain, so neither a plain-http page nor a subdomain
    can plant or overwrite it (session fixation, CSRF nonce forcing, a device proof)."""
    return f"__Host-{name}" if secure_cookies(settings) else name
