"""What a client may not set on a product or location, and the next version of one (shared by the
catalog service and its 002 mixin)."""

from __future__ import annotations

from typing import Any, TypeVar

from chalicelib.core.errors import (
    StaleVersion,
)
from chalicelib.core.ids import utcnow
from chalicelib.core.models import (
    Location,
    Product,
)

# `number` (004 productId / warehouseId) is given by storage on create, never by a client.
PRODUCT_OWNED = frozenset({"tenant_id", "product_id", "version", "created_at", "updated_at", "number"})
# A company's default location is made with the company; no client makes or unmakes one.
LOCATION_OWNED = frozenset({"tenant_id", "location_id", "version", "created_at", "updated_at", "is_default", "number"})
E = TypeVar("E", Product, Location)


def next_version(previous: E, changes: dict[str, Any], expected: int | None) -> E:
    if expected is not None and expected != previous.version:
        raise StaleVersion(f"version is {previous.version}, not {expected}")
    merged = {**previous.model_dump(), **changes, "version": previous.version + 1, "updated_at": utcnow()}
    return type(previous).model_validate(merged)


def without(fields: dict[str, Any], owned: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k not in owned}
