"""`Idempotency-Key` for every mutating route.

Keyed by tenant + key. The first request's response is stored and replayed
to any retry with the same payload; the same key with a different payload
is a 422; a retry while the first request still runs is a 409. Responses of
5xx are not stored, so the client's retry runs again.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from chalicelib.http.errors import HttpError, bad_request
from chalicelib.settings import get_settings
from chalicelib.wiring import idempotency_store as _store

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Replay:
    status: int
    body: str
    headers: dict[str, str]


def fingerprint(method: str, path: str, query: dict[str, str] | None, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.upper(), path, repr(sorted((query or {}).items()))):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


def command_id(tenant_id: str, key: str) -> str:
    """A stable id for the command behind a key: the ledger uses it to apply it once."""
    return "idem-" + hashlib.sha256(f"{tenant_id}\0{key}".encode()).hexdigest()[:40]


def validate_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise bad_request(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters", field="Idempotency-Key")
    return key


def begin(tenant_id: str, key: str, print_: str) -> Replay | None:
    """Claim the key, or answer with what the first request decided."""
    settings = get_settings()
    held = _store().claim(
        tenant_id, key, print_, int(time.time()), settings.idempotency_lock_seconds, settings.idempotency_ttl_seconds
    )
    if held is None:
        return None
    if held.fingerprint != print_:
        raise HttpError(
            422,
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used with a different request",
            [{"field": "Idempotency-Key", "message": "already used for another payload"}],
        )
    if held.response_status is None:
        raise HttpError(409, "REQUEST_IN_PROGRESS", "a request with this Idempotency-Key is still in progress")
    return Replay(held.response_status, held.response_body or "", dict(held.response_headers or {}))


def finish(tenant_id: str, key: str, status: int, body: str, headers: dict[str, str]) -> None:
    if status >= 500:
        _store().release(tenant_id, key)
    else:
        _store().complete(tenant_id, key, status, body, headers)
