"""Who is calling: the client address behind trusted proxies, and address parsing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Networks from IPs or CIDRs (``10.0.0.1``, ``10.0.0.0/8``); a bad entry is a ValueError."""
    return tuple(ip_network(entry.strip(), strict=False) for entry in entries)


def parse_address(text: str) -> Address | None:
    """The address in ``text`` (IPv4-mapped IPv6 as IPv4), or None when it is not one."""
    try:
        address = ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, proxies: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_ip(peer: str | None, forwarded_for: str | None, proxies: Sequence[Network]) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy.

    Behind trusted proxies it is the right-most address of ``X-Forwarded-For`` that is not itself
    a trusted proxy: everything left of it was written by the client and can be forged. If every
    hop is trusted, the left-most one is the client; a malformed hop stops the walk at the last
    trusted address seen (only a misconfigured proxy writes one).
    """
    peer_address = parse_address(peer) if peer else None
    if peer_address is None:
        return peer or "unknown"
    if not proxies or not forwarded_for or not _trusted(peer_address, proxies):
        return str(peer_address)
    current = peer_address
    for hop in reversed(forwarded_for.split(",")):
        address = parse_address(hop)
        if address is None:
            return str(current)
        current = address
        if not _trusted(address, proxies):
            return str(address)
    return str(current)
