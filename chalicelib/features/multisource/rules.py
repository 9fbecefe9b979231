"""004 rules that need no storage: lookup keys, inventory types, field limits, the uniqueness key."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib.core.errors import Problem, ValidationFailed, problem
from chalicelib.core.stock.ownership import INTERN
from chalicelib.features.multisource.model import (
    COST_DIGITS,
    COST_SCALE,
    MAX_LOCATION,
    MAX_NOTES,
    MAX_SKU,
    MAX_SUPPLIER,
    MAX_SUPPLIER_CODE,
    InventoryType,
    LookupKey,
    RecordInput,
)

LIMITS = {
    "supplier": MAX_SUPPLIER,
    "supplierCode": MAX_SUPPLIER_CODE,
    "sku": MAX_SKU,
    "location": MAX_LOCATION,
    "notes": MAX_NOTES,
}
# The record field that names the product under each lookup key.
PRODUCT_FIELD = {LookupKey.ID: "productId", LookupKey.SKU: "sku", LookupKey.SOURCE_ID: "sourceId"}


def lookup_key(value: str) -> LookupKey:
    """The path's lookupKey, or a 400 that lists the allowed values."""
    try:
        return LookupKey(value)
    except ValueError:
        allowed = ", ".join(k.value for k in LookupKey)
        raise ValidationFailed(
            f"lookupKey must be one of {allowed}", [problem("lookupKey", f"must be one of: {allowed}")]
        ) from None


def inventory_type(value: str) -> InventoryType:
    """The path's inventoryType, or a 400 that lists the allowed values."""
    try:
        return InventoryType(value)
    except ValueError:
        allowed = ", ".join(t.value for t in InventoryType)
        raise ValidationFailed(
            f"inventoryType must be one of {allowed}", [problem("inventoryType", f"must be one of: {allowed}")]
        ) from None


def require_source(key: LookupKey, source: str | None) -> str | None:
    """`?source=` is required with lookup key sourceId (400 otherwise)."""
    if key == LookupKey.SOURCE_ID and not (source or "").strip():
        raise ValidationFailed("lookup key sourceId needs ?source=", [problem("source", "required with sourceId")])
    return source.strip() if source else None


def cost_problem(value: Decimal) -> str | None:
    """Why `value` is not a decimal (10,5), or None."""
    if not value.is_finite():
        return "must be a finite number"
    normal = value.normalize()
    exponent = int(normal.as_tuple().exponent)
    if exponent < -COST_SCALE:
        return f"at most {COST_SCALE} digits after the point (decimal {COST_DIGITS},{COST_SCALE})"
    if abs(value) >= Decimal(10) ** (COST_DIGITS - COST_SCALE):
        return f"at most {COST_DIGITS - COST_SCALE} digits before the point (decimal {COST_DIGITS},{COST_SCALE})"
    return None


def field_problems(record: RecordInput, index: int | None = None) -> list[Problem]:
    """Length limits (35, 30, 30, 35, 255) and costPrice precision, each naming its field."""
    found = []
    for name, limit in LIMITS.items():
        value = getattr(record, name)
        if value is not None and len(value) > limit:
            found.append(problem(name, f"at most {limit} characters", index))
    if record.costPrice is not None:
        message = cost_problem(record.costPrice)
        if message:
            found.append(problem("costPrice", message, index))
    return found


def check_fields(record: RecordInput) -> None:
    problems = field_problems(record)
    if problems:
        raise ValidationFailed("invalid inventory record", problems)


def owner_for(kind: InventoryType, supplier: str | None) -> tuple[str | None, str | None]:
    """The record's owner under `kind`, or (None, message): local is INTERN whatever was sent;
    supplier needs a supplier other than INTERN."""
    if kind == InventoryType.LOCAL:
        return INTERN, None
    name = (supplier or "").strip()
    if not name:
        return None, "required for supplier inventory"
    if name.upper() == INTERN:
        return None, "INTERN is local inventory: use inventoryType local"
    return name, None


def natural_key(
    product_id: str, owner: str, supplier_code: str | None, location: str | None, location_id: str, company: int
) -> str:
    """The documented uniqueness key (tenant, productId, supplier, supplierCode, location, warehouseId,
    companyId) as one guard value: a hash, so any text fits a key. Absent and empty text are the same."""
    parts = [product_id, owner, supplier_code or "", location or "", location_id, company]
    return "v2:" + hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as the document writes times (2025-01-15T10:30:00.000Z)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def attributes_of(record: RecordInput, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The record's attributes after applying the documented fields sent (None clears one)."""
    merged = dict(current or {})
    sent = record.model_fields_set
    for name in ("location", "companyId", "costPrice", "notes"):
        if name in sent:
            merged[name] = getattr(record, name)
    if "nextDeliveryDate" in sent:
        when = record.nextDeliveryDate
        merged["nextDeliveryDate"] = iso(when) if when else None
    # Absent, empty text and companyId 0 ("none") are one value: the attribute is left out.
    return {k: v for k, v in merged.items() if v is not None and v != "" and not (k == "companyId" and v == 0)}
