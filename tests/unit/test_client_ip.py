"""Which address is the client's (SECURITY-TESTS 11)."""

from __future__ import annotations

import ipaddress

import pytest

from tenantry.transports.rest.client_ip import client_ip

pytestmark = [pytest.mark.unit, pytest.mark.catalogue(11)]
PROXY = [ipaddress.ip_network("10.0.0.0/8")]


def test_header_from_an_untrusted_peer_is_ignored() -> None:
    assert client_ip("203.0.113.9", ["198.51.100.1"], PROXY) == "203.0.113.9"


def test_no_trusted_proxies_means_the_header_is_ignored() -> None:
    assert client_ip("10.0.0.1", ["198.51.100.1"], []) == "10.0.0.1"


def test_trusted_proxy_gives_the_first_untrusted_hop_from_the_right() -> None:
    hops = ["6.6.6.6, 198.51.100.1, 10.0.0.7"]
    assert client_ip("10.0.0.1", hops, PROXY) == "198.51.100.1"


def test_repeated_headers_are_joined() -> None:
    assert client_ip("10.0.0.1", ["6.6.6.6", "198.51.100.1"], PROXY) == "198.51.100.1"


@pytest.mark.parametrize("header", ["garbage", "1.2.3.4, nope", "", "1.2.3.999"])
def test_unparsable_header_falls_back_to_the_peer(header: str) -> None:
    assert client_ip("10.0.0.1", [header], PROXY) == "10.0.0.1"


def test_all_hops_trusted_gives_the_leftmost() -> None:
    assert client_ip("10.0.0.1", ["10.1.1.1, 10.2.2.2"], PROXY) == "10.1.1.1"


def test_ipv6_peers_work() -> None:
    v6 = [ipaddress.ip_network("::1/128")]
    assert client_ip("::1", ["2001:db8::5"], v6) == "2001:db8::5"
