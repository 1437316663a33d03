"""The client's IP: the peer's address, or the `X-Forwarded-For` hop a trusted proxy vouches for.
From anyone else, or when unparsable, the header is ignored. Not uvicorn's
ProxyHeadersMiddleware: it takes an unparsable hop (`garbage`, `1.2.3.4:8080`) as the client
instead of ignoring the header, and it rewrites the scope's client for every reader."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from tenantry.settings import IPNetwork


def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address.strip())
    except ValueError:
        return None


def client_ip(
    peer: str | None, forwarded_for: list[str], trusted: Sequence[IPNetwork]
) -> str | None:
    """Walk `X-Forwarded-For` from the right while hops are trusted proxies; the first
    untrusted hop is the client. Any unparsable hop voids the header."""
    peer_address = _parse(peer) if peer else None
    if peer_address is None or not forwarded_for or not _trusted(peer_address, trusted):
        return peer
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    parsed = [_parse(hop) for hop in hops]
    if any(address is None for address in parsed):
        return peer
    for address in reversed(parsed):
        assert address is not None
        if not _trusted(address, trusted):
            return str(address)
    first = parsed[0]
    return str(first) if first is not None else peer


def trusted_peer(peer: str | None, trusted: Sequence[IPNetwork]) -> bool:
    """Whether the peer is one of the trusted proxies (whose `X-Forwarded-*` headers count)."""
    peer_address = _parse(peer) if peer and trusted else None
    return peer_address is not None and _trusted(peer_address, trusted)


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Sequence[IPNetwork]
) -> bool:
    return any(address in network for network in trusted)
