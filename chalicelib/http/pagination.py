"""Page sizes and continuation tokens.

Every paged list of the company surfaces and the platform takes `ListQuery`
(`limit`, `nextToken`) and answers a JSON array, with an `X-Next-Token`
header while more remain. Its default and maximum page size are the
settings' `default_page_size` and `max_page_size`, the same for every list;
the OpenAPI document shows them from the same settings.

A token is the storage cursor plus the tenant and the list that issued it
(its route, and the filters that shaped it), signed with HMAC-SHA256. A token
from another tenant or another list, or one that was edited, is refused with
a 400: a cursor only makes sense in the query that made it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from pydantic import Field

from chalicelib.core.models import Model
from chalicelib.http import jsonio
from chalicelib.http.errors import bad_request
from chalicelib.settings import get_settings

NEXT_TOKEN = "X-Next-Token"  # noqa: S105 - a header name, not a secret


class ListQuery(Model):
    """The query of a paged list (the OpenAPI document fills in the settings' sizes)."""

    limit: int | None = Field(
        None, description="Items per page, 1 to STOCKROOM_MAX_PAGE_SIZE (default STOCKROOM_DEFAULT_PAGE_SIZE)"
    )
    nextToken: str | None = Field(None, description=f"The {NEXT_TOKEN} header of the previous page")


def page_size(requested: int | None) -> int:
    """The page size of a list: `requested`, or the default; a 400 outside 1..the maximum."""
    settings = get_settings()
    maximum = settings.max_page_size
    size = requested if requested is not None else settings.default_page_size
    if size < 1 or size > maximum:
        raise bad_request(f"limit must be between 1 and {maximum}", field="limit", code="INVALID_LIMIT")
    return size


def encode_token(tenant_id: str, cursor: dict[str, Any] | None, *, scope: str) -> str | None:
    """`scope` names the list: `Call.list_scope`, plus any filter that shapes the query."""
    if cursor is None:
        return None
    payload = jsonio.dumps({"t": tenant_id, "s": scope, "c": cursor}).encode()
    body = base64.urlsafe_b64encode(payload).rstrip(b"=")
    return f"{body.decode()}.{_sign(body)}"


def decode_token(tenant_id: str, token: str | None, *, scope: str) -> dict[str, Any] | None:
    if not token:
        return None
    invalid = bad_request("continuation token is invalid", field="nextToken", code="INVALID_TOKEN")
    body, _, signature = token.partition(".")
    # Bytes, not str: compare_digest raises TypeError on non-ASCII text.
    if not body or not hmac.compare_digest(signature.encode(), _sign(body.encode()).encode()):
        raise invalid
    try:
        payload = jsonio.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        raise invalid from None
    if not isinstance(payload, dict) or payload.get("t") != tenant_id or not isinstance(payload.get("c"), dict):
        raise invalid
    if payload.get("s") != scope:
        raise bad_request("continuation token belongs to another list", field="nextToken", code="INVALID_TOKEN")
    cursor: dict[str, Any] = payload["c"]
    return cursor


def _sign(body: bytes) -> str:
    secret = get_settings().signing_secret.encode()
    digest = hmac.new(secret, b"page:" + body, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
