"""Webhook signatures: HMAC-SHA256 over `<timestamp>.<body>`, the scheme Stripe uses.

Header: `Stockroom-Signature: t=<unix seconds>,v1=<hex digest>`. A receiver
recomputes the digest with its secret and compares in constant time, and
refuses a timestamp too far from its clock (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER = "Stockroom-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of generated secrets, not a secret
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={digest(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """True when `header` signs `body` with `secret` and its time is within `tolerance` of `now`."""
    parts: dict[str, list[str]] = {}
    for piece in header.split(","):
        name, _, value = piece.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = digest(secret, timestamp, body)
    return any(hmac.compare_digest(expected.encode(), v.encode()) for v in parts.get("v1", []))
