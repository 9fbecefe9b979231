"""Who is calling: credential extraction and permission checks.

Accepted, in this order: `Authorization: Bearer <key>`, `X-API-Key`, the
002-documented `X-Inventora-API-Key` header, and its `x-inventora-api-key`
query parameter. `Authorization: Bearer <access token>` (an OAuth2 JWT from
`POST /oauth2/token`, http/tokens.py) works on every route an API key does;
its scopes are its permissions. A bad token is a 401 with
`WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 3.1); a token
without the route's permission a 403 with `error="insufficient_scope"`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from chalicelib.core.errors import Unauthenticated
from chalicelib.core.tenancy.clients import TOKEN_CREDENTIAL, InvalidToken, identity_from_claims
from chalicelib.core.tenancy.tenants import Principal
from chalicelib.http import tokens
from chalicelib.http.errors import HttpError, forbidden, unauthenticated
from chalicelib.wiring import client_service, tenant_service

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
    if headers.get("authorization") is not None and tokens.looks_like_token(raw):
        return _token_principal(raw)
    try:
        return tenant_service().authenticate(raw)
    except Unauthenticated:
        raise unauthenticated("Invalid API key") from None


def _token_principal(raw: str) -> Principal:
    try:
        return client_service().principal(identity_from_claims(tokens.verify(raw)))
    except InvalidToken as error:
        challenge = f'Bearer error="invalid_token", error_description="{error.message}"'
        raise HttpError(
            401, "INVALID_TOKEN", f"Invalid access token: {error.message}", headers={"WWW-Authenticate": challenge}
        ) from None


def require(principal: Principal, permissions: tuple[str, ...], *, needed_for: str | None = None) -> None:
    """403 unless the key holds every one of `permissions`."""
    missing = [p for p in permissions if p not in principal.permissions]
    if missing:
        why = f" (needed for {needed_for})" if needed_for else ""
        message = f"this {_what(principal)} lacks the permission {', '.join(missing)}{why}"
        raise _refused(principal, message, f"requires {', '.join(permissions)}", missing)


def require_any(principal: Principal, permissions: tuple[str, ...]) -> None:
    """403 unless the key holds at least one of `permissions`."""
    if not principal.permissions.intersection(permissions):
        listed = ", ".join(permissions)
        message = f"this {_what(principal)} lacks a permission: it needs one of {listed}"
        raise _refused(principal, message, f"requires one of {listed}", list(permissions))


def _what(principal: Principal) -> str:
    return "access token" if principal.credential == TOKEN_CREDENTIAL else "API key"


def _refused(principal: Principal, message: str, requirement: str, scopes: list[str]) -> HttpError:
    headers = {}
    if principal.credential == TOKEN_CREDENTIAL:
        headers["WWW-Authenticate"] = f'Bearer error="insufficient_scope", scope="{" ".join(scopes)}"'
    return HttpError(403, "FORBIDDEN", message, [{"field": "permissions", "message": requirement}], headers)


__all__ = ["authenticate", "credential", "forbidden", "require", "require_any"]
