"""Webhook URL rules (server-side request forgery).

A URL must be https and its host must resolve only to public addresses: no
private, loopback, link-local, shared (CGNAT), multicast, reserved or
unspecified address, in IPv4 or IPv6 form (IPv4-mapped and 6to4/Teredo
forms are unwrapped first). The check runs when the webhook is saved and
again before each delivery, and the sender connects to the very address it
checked (DNS rebinding cannot swap it between check and connect).

`allow_loopback` (a local-stack setting) admits http and loopback hosts so
tests can run a receiver on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

Resolver = Callable[[str], list[str]]
MAX_URL_LENGTH = 2048


class UnsafeUrl(ValueError):
    """The URL may not receive webhooks; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    addresses: tuple[str, ...]


def parse(url: str, allow_loopback: bool = False) -> tuple[str, str, int, str]:
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"url is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"url is not valid: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (allow_loopback and scheme == "http"):
        raise UnsafeUrl("url must use https")
    if parts.username or parts.password:
        raise UnsafeUrl("url must not carry credentials")
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeUrl("url has no host")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), path


def unsafe_reason(address: str, allow_loopback: bool = False) -> str | None:
    """Why an address may not be called, or None when it is public."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is not None:
            return unsafe_reason(str(inner), allow_loopback)
        if ip in ipaddress.ip_network("64:ff9b::/96"):  # NAT64 embeds an IPv4 address
            return unsafe_reason(str(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)), allow_loopback)
    if ip.is_loopback:
        return None if allow_loopback else f"{address} is a loopback address"
    if ip.is_link_local:
        return f"{address} is a link-local address"
    if ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10")):
        return f"{address} is a private address"
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified or not ip.is_global:
        return f"{address} is not a public address"
    return None


def check(url: str, resolve: Resolver, allow_loopback: bool = False) -> Target:
    """The URL's target with every address it resolves to checked; UnsafeUrl when any is not public."""
    scheme, host, port, path = parse(url, allow_loopback)
    if allow_loopback and host == "localhost":
        return Target(scheme, host, port, path, ("127.0.0.1",))
    if scheme == "http" and allow_loopback:
        # Plain http only ever reaches loopback, even when the setting is on.
        addresses = _resolved(host, resolve)
        for address in addresses:
            if not ipaddress.ip_address(address.split("%", 1)[0]).is_loopback:
                raise UnsafeUrl("url must use https")
        return Target(scheme, host, port, path, tuple(addresses))
    addresses = _resolved(host, resolve)
    for address in addresses:
        reason = unsafe_reason(address, allow_loopback)
        if reason:
            raise UnsafeUrl(f"url host {host} resolves to a forbidden address: {reason}")
    return Target(scheme, host, port, path, tuple(addresses))


def _resolved(host: str, resolve: Resolver) -> list[str]:
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        return [str(literal)]
    try:
        addresses = resolve(host)
    except OSError as exc:
        raise UnsafeUrl(f"url host {host} does not resolve: {exc}") from None
    if not addresses:
        raise UnsafeUrl(f"url host {host} does not resolve")
    return addresses
