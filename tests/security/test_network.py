"""The client address: X-Forwarded-For believed only from trusted proxies."""

from __future__ import annotations

import pytest

from credguard.security.network import client_ip, parse_networks

PROXIES = parse_networks(["10.0.0.1", "192.168.0.0/16", "fd00::/8"])


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        # No proxy configured or peer not trusted: the peer, whatever the header says.
        ("203.0.113.7", "1.2.3.4", "203.0.113.7"),
        ("203.0.113.7", None, "203.0.113.7"),
        # A trusted proxy without the header: the proxy itself.
        ("10.0.0.1", None, "10.0.0.1"),
        # A trusted proxy: the right-most address it did not write itself.
        ("10.0.0.1", "198.51.100.9", "198.51.100.9"),
        # The client forged a left-hand entry: ignored, the proxy-appended one counts.
        ("10.0.0.1", "6.6.6.6, 198.51.100.9", "198.51.100.9"),
        # A chain of trusted proxies is skipped from the right.
        ("10.0.0.1", "6.6.6.6, 198.51.100.9, 192.168.4.4", "198.51.100.9"),
        # Every hop trusted: the left-most is the client.
        ("10.0.0.1", "192.168.1.1, 192.168.2.2", "192.168.1.1"),
        # A malformed hop stops the walk at the last trusted address.
        ("10.0.0.1", "198.51.100.9, garbage", "10.0.0.1"),
        ("10.0.0.1", " 198.51.100.9 ,  ", "10.0.0.1"),
        # IPv6 and IPv4-mapped IPv6.
        ("fd00::1", "2001:db8::5", "2001:db8::5"),
        ("::ffff:10.0.0.1", "198.51.100.9", "198.51.100.9"),
        ("::ffff:203.0.113.7", None, "203.0.113.7"),
        # A trusted network does not make other addresses trusted.
        ("10.0.0.2", "198.51.100.9", "10.0.0.2"),
    ],
)
def test_client_ip(peer: str, forwarded_for: str | None, expected: str) -> None:
    assert client_ip(peer, forwarded_for, PROXIES) == expected


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_ip("10.0.0.1", "198.51.100.9", ()) == "10.0.0.1"


def test_missing_peer() -> None:
    assert client_ip(None, "198.51.100.9", PROXIES) == "unknown"


def test_a_bad_proxy_entry_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_networks(["10.0.0.0/33"])
