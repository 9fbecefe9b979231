"""Host name resolution for webhook URLs (the SSRF check resolves every address of a host)."""

from __future__ import annotations

import socket


def resolve(host: str) -> list[str]:
    """Every address `host` resolves to (IPv4 and IPv6), deduplicated, in resolver order."""
    found: list[str] = []
    for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP):
        address = str(info[4][0])
        if address not in found:
            found.append(address)
    return found
