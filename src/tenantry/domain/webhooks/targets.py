"""The SSRF guard for webhook URLs: http(s) only, the host resolved once, every address checked
(no loopback, private, link-local/cloud metadata, multicast, reserved or unspecified address
unless private targets are allowed; an IPv6 form embedding an IPv4 address is judged by that
address), and the request sent to the checked address itself so a
second DNS answer cannot swap it (no rebinding)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from tenantry.errors import InvalidInput

MAX_URL_LENGTH = 2048
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(InvalidInput):
    code = "webhook_url_forbidden"


@dataclass(frozen=True)
class Target:
    """Where to send: `url` names the checked address; `host` goes in the Host header and
    in TLS (SNI and certificate check)."""

    url: str
    host: str
    address: IPAddress


def parse(url: str) -> SplitResult:
    """The URL if its form is acceptable (resolution comes later)."""
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused("The URL is too long.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as error:
        raise TargetRefused("The URL is not valid.") from error
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("Only http and https URLs are accepted.")
    if not parts.hostname:
        raise TargetRefused("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("Credentials in the URL are not accepted.")
    return parts


# Every globally routed IPv6 unicast address is in 2000::/3; anything outside it (site-local
# fec0::/10, local-use NAT64 64:ff9b:1::/48, unallocated space) is refused whatever Python's
# `is_global` says, since that table has missed ranges and changed between patch releases.
GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
# Teredo hides its client's IPv4 address (XOR-ed) behind a relay chosen by the network path:
# no check on the decoded address says where the packet really goes.
TEREDO = ipaddress.IPv6Network("2001::/32")
# Prefixes whose low 32 bits are the IPv4 address the packet is delivered to: IPv4-compatible,
# IPv4-mapped, IPv4-translated (RFC 2765) and the well-known NAT64 prefix (RFC 6052).
EMBEDDING_IPV4 = tuple(
    ipaddress.IPv6Network(prefix)
    for prefix in ("::/96", "::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b::/96")
)


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address `address` leads to (its 6to4 or embedded form), if it embeds one."""
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in prefix for prefix in EMBEDDING_IPV4):
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """Whether a webhook may go to `address`: an IPv6 form embedding an IPv4 address is
    judged by that IPv4 address."""
    if isinstance(address, ipaddress.IPv4Address):
        return address.is_global and not address.is_multicast
    embedded = embedded_ipv4(address)
    if embedded is not None:
        return is_public(embedded)
    return address in GLOBAL_UNICAST and address not in TEREDO and address.is_global


async def resolve(url: str, *, allow_private: bool) -> Target:
    """Resolve `url`'s host and pick an address every check passes; refuse the URL if any
    address the name resolves to is not public (an attacker controls which one we would
    get), unless private targets are allowed."""
    parts = parse(url)
    host = parts.hostname
    assert host is not None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = await _addresses(host, port)
    if not allow_private and not all(is_public(address) for address in addresses):
        raise TargetRefused("The URL points to a private, loopback or reserved address.")
    # IPv4 first: a host without IPv6 routing (common on servers) would fail on an AAAA.
    address = next((found for found in addresses if found.version == 4), addresses[0])
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{port}"
    return Target(url=parts._replace(netloc=netloc).geturl(), host=host, address=address)


async def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise TargetRefused("The URL's host does not resolve.") from error
    # Scoped IPv6 answers carry `%zone`, which ip_address() refuses; drop the zone.
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
    if not addresses:
        raise TargetRefused("The URL's host does not resolve.")
    return addresses
