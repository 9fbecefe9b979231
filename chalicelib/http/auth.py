"""Who is calling: credential extraction and permission checks.

Accepted, in this order: `Authorization: Bearer <key>`, `X-API-Key`, the
002-documented `X-Inventora-API-Key` header, and its `x-inventora-api-key`
query parameter.
"""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.core.errors import Unauthenticated
from chalicelib.core.tenants import Principal
from chalicelib.http.errors import HttpError, forbidden, unauthenticated
from chalicelib.wiring import tenant_service

KEY_HEADERS = ("x-api-key", "x-inventora-api-key")
KEY_QUERY_PARAMETER = "x-inventora-api-key"


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


def require(principal: Principal, permissions: tuple[str, ...]) -> None:
    missing = [p for p in permissions if p not in principal.permissions]
    if missing:
        raise HttpError(
            403,
            "FORBIDDEN",
            f"this API key lacks the permission {', '.join(missing)}",
            [{"field": "permissions", "message": f"requires {', '.join(permissions)}"}],
        )


__all__ = ["authenticate", "credential", "forbidden", "require"]
