"""Who is calling: credential extraction and permission checks.

Accepted, in this order: `Authorization: Bearer <key>`, `X-API-Key`, the
002-documented `X-Inventora-API-Key` header, and its `x-inventora-api-key`
query parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from chalicelib.core.errors import Unauthenticated
from chalicelib.core.tenancy.tenants import Principal
from chalicelib.http.errors import HttpError, forbidden, unauthenticated
from chalicelib.wiring import tenant_service

KEY_HEADERS = ("x-api-key", "x-inventora-api-key")
KEY_QUERY_PARAMETER = "x-inventora-api-key"
_KEY_IN_QUERY = re.compile(rf"({re.escape(KEY_QUERY_PARAMETER)}=)[^&\s\"']*", re.IGNORECASE)


def redact(text: str) -> str:
    """`text` with any key passed in a query string blanked out, for log lines (access logs print URLs)."""
    return _KEY_IN_QUERY.sub(r"\1REDACTED", text)


def credential(headers: Mapping[str, str], query: Mapping[str, str] | None) -> str | None:
    authorization = headers.get("authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthenticated("Authorization header must be 'Bearer <API key>'")
        return token.strip()
    for name in KEY_HEADERS:
        if headers.get(name):
            return headers[name].strip()
    if query and query.get(KEY_QUERY_PARAMETER):
        return query[KEY_QUERY_PARAMETER].strip()
    return None


def authenticate(headers: Mapping[str, str], query: Mapping[str, str] | None) -> Principal:
    raw = credential(headers, query)
    if raw is None:
        raise unauthenticated("API key missing")
    try:
        return tenant_service().authenticate(raw)
    except Unauthenticated:
        raise unauthenticated("Invalid API key") from None


def require(principal: Principal, permissions: tuple[str, ...], *, needed_for: str | None = None) -> None:
    """403 unless the key holds every one of `permissions`."""
    missing = [p for p in permissions if p not in principal.permissions]
    if missing:
        why = f" (needed for {needed_for})" if needed_for else ""
        message = f"this API key lacks the permission {', '.join(missing)}{why}"
        raise _refused(message, f"requires {', '.join(permissions)}")


def require_any(principal: Principal, permissions: tuple[str, ...]) -> None:
    """403 unless the key holds at least one of `permissions`."""
    if not principal.permissions.intersection(permissions):
        listed = ", ".join(permissions)
        raise _refused(f"this API key lacks a permission: it needs one of {listed}", f"requires one of {listed}")


def _refused(message: str, requirement: str) -> HttpError:
    return HttpError(403, "FORBIDDEN", message, [{"field": "permissions", "message": requirement}])


__all__ = ["authenticate", "credential", "forbidden", "require", "require_any"]
