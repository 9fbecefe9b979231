"""Lots, lot control and FEFO: the one home of these rules (001).

- A lot is one batch of one product; its id is derived from (tenant, product,
  casefolded lot number), so the same lot number always names the same lot and
  creating it twice is the same write.
- Lot control: a lot-controlled product is received with a lot number, an
  expiry-tracked one with an expiry date; a known lot number with another
  expiry date is refused. `check_receipt` is what record-stock and the
  lot-control validate routes both apply.
- FEFO: wherever stock of a lot-controlled product is taken without a lot being
  named, the lot that expires first goes first, and an expired or quarantined
  lot (or one past its date) never goes (`fefo`).
- Stock slots: the record that holds a product at a location, bin and lot has a
  derived id (`slot_id`); without bin and lot it is the 002 location record, so
  every surface counts the same stock.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from chalicelib.core.errors import InvalidState, ValidationFailed
from chalicelib.core.models import Lot, LotStatus, Product, StockRecord
from chalicelib.core.stock.levels import location_stock_id

LOT_NAMESPACE = uuid.UUID("ad9a8c87-ea15-407c-8000-000000000001")
SLOT_NAMESPACE = uuid.UUID("ad9a8c87-ea15-407c-8000-000000000002")
MAX_LOT_NUMBER = 100


def lot_id_for(tenant_id: str, product_id: str, lot_number: str) -> str:
    """The id of the product's lot with this number (any case, surrounding spaces ignored)."""
    return str(uuid.uuid5(LOT_NAMESPACE, f"{tenant_id}\0{product_id}\0{lot_number.strip().casefold()}"))


def slot_id(tenant_id: str, product_id: str, location_id: str, bin_id: str | None, lot_id: str | None) -> str:
    """The record that holds a product at a location (and bin, and lot) when no record is named."""
    if bin_id is None and lot_id is None:
        return location_stock_id(tenant_id, product_id, location_id)
    return str(uuid.uuid5(SLOT_NAMESPACE, f"{tenant_id}\0{product_id}\0{location_id}\0{bin_id or ''}\0{lot_id or ''}"))


@dataclass(frozen=True)
class Receipt:
    """What a receipt (or a lot-control check) says about the lot: number and expiry date, if any."""

    lot_number: str | None
    expiry_date: date | None


def check_receipt(
    product: Product, receipt: Receipt, known: Lot | None, index: int | None = None
) -> list[dict[str, str]]:
    """The lot-control problems of receiving `receipt` of `product` ({field, message}; empty when valid).

    `known` is the lot the number names, when it exists already.
    """
    problems: list[dict[str, str]] = []

    def bad(name: str, message: str) -> None:
        problems.append({"field": name if index is None else f"lines[{index}].{name}", "message": message})

    number = (receipt.lot_number or "").strip()
    if receipt.lot_number is not None and not number:
        bad("lotNumber", "must not be empty")
    if len(number) > MAX_LOT_NUMBER:
        bad("lotNumber", f"at most {MAX_LOT_NUMBER} characters")
    if product.lot_controlled and not number:
        bad("lotNumber", "this product is lot-controlled: a lot number is required")
    if product.expiry_tracked and receipt.expiry_date is None and known is None:
        bad("expiryDate", "this product is expiry-tracked: an expiry date is required")
    if known is not None and receipt.expiry_date is not None and known.expiry_date != receipt.expiry_date:
        bad(
            "expiryDate",
            f"lot {known.lot_number} expires on {known.expiry_date.isoformat() if known.expiry_date else 'no date'}",
        )
    if known is not None and known.status != LotStatus.ACTIVE:
        bad("lotNumber", f"lot {known.lot_number} is {known.status.value}")
    return problems


def require_valid(problems: list[dict[str, str]]) -> None:
    if problems:
        raise ValidationFailed(problems[0]["message"], problems)


def usable(lot: Lot | None, today: date) -> bool:
    """Whether stock of this lot may be picked: active and not past its expiry date."""
    if lot is None:
        return True
    if lot.status != LotStatus.ACTIVE:
        return False
    return lot.expiry_date is None or lot.expiry_date >= today


def fefo(records: Iterable[StockRecord], lots: Mapping[str, Lot], today: date) -> list[StockRecord]:
    """The records to take from, first expiry first, leaving out expired and quarantined lots.

    Records without a lot come after every lot with a date (they never expire); lots without a
    date come after dated ones. Ties go oldest record first.
    """
    usable_records = [r for r in records if usable(lots.get(r.lot_id) if r.lot_id else None, today)]

    def key(record: StockRecord) -> tuple[int, date, object, str]:
        lot = lots.get(record.lot_id) if record.lot_id else None
        expiry = lot.expiry_date if lot is not None else None
        rank = 0 if expiry is not None else (1 if lot is not None else 2)
        return (rank, expiry or date.max, record.created_at, record.stock_id)

    return sorted(usable_records, key=key)


def require_reservable(record: StockRecord, lot: Lot | None, today: date, field: str = "inventoryId") -> None:
    """A reservation never takes stock of an expired, quarantined or past-date lot (409 naming `field`)."""
    if record.lot_id is None or lot is None or usable(lot, today):
        return
    why = lot.status.value if lot.status != LotStatus.ACTIVE else "past its expiry date"
    raise InvalidState(
        f"lot {lot.lot_number} is {why}: its stock cannot be reserved",
        [{"field": field, "message": f"lot {lot.lot_number} is {why}"}],
    )
