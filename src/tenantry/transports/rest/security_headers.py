"""The headers every response carries, API, web pages, docs, metrics and errors alike: no
content sniffing, no referrer beyond the origin, no caching unless the route set a policy of
its own (responses carry tokens, secrets and tenant data), and HSTS whenever the client reached
Tenantry over HTTPS. The web pages add their own (CSP, framing) in `web.render`."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.types import Scope

from tenantry.settings import IPNetwork
from tenantry.transports.rest.client_ip import trusted_peer

Header = tuple[bytes, bytes]

EVERY_RESPONSE: tuple[Header, ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
NO_STORE: Header = (b"cache-control", b"no-store")
# Two years with subdomains, as hstspreload.org and OWASP recommend. Not `preload`: a
# listing is hard to undo, an operator's decision (a proxy in front may add it).
HSTS: Header = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


class SecurityHeaders:
    def __init__(self, *, public_url: str, trusted_proxies: Sequence[IPNetwork]) -> None:
        """`public_url` on https: every response is reached over HTTPS (a TLS-terminating
        proxy in front). `trusted_proxies`: whose `X-Forwarded-Proto` tells the scheme."""
        self._https_always = urlsplit(public_url).scheme == "https"
        self._trusted = trusted_proxies

    def add_to(self, headers: list[Header], scope: Scope) -> None:
        """Append the security headers to a response's `headers` (in place)."""
        if not any(name == b"cache-control" for name, _value in headers):
            headers.append(NO_STORE)
        headers.extend(EVERY_RESPONSE)
        if self._over_https(scope):
            headers.append(HSTS)

    def _over_https(self, scope: Scope) -> bool:
        """Browsers ignore HSTS over plain http anyway; sending it there only misleads (and
        a development server on http://localhost must never pin its host to https)."""
        if self._https_always or scope["scheme"] == "https":
            return True
        if not self._trusted:
            return False
        peer = scope.get("client")
        return trusted_peer(peer[0] if peer else None, self._trusted) and (
            _forwarded_proto(scope) == "https"
        )


def _forwarded_proto(scope: Scope) -> str | None:
    """The last `X-Forwarded-Proto` value: the one the nearest (trusted) proxy set."""
    values: list[bytes] = [
        value for name, value in scope["headers"] if name == b"x-forwarded-proto"
    ]
    if not values:
        return None
    return values[-1].decode("latin-1").rsplit(",", 1)[-1].strip().lower()
