"""Request and response bodies of the 001 warehouse stock routes, in the document's camelCase names.

The document gives endpoints and query parameters but no bodies; these are the contract of
issue 15 (`docs/architecture.md` section 2.3). Requests ignore unknown fields; numbers are
exact decimals (`core/values.Number` bounds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field

from chalicelib.core.bodies import Body
from chalicelib.core.models import Bin, BinType, ClaimStatus, Hold, Lot, Model
from chalicelib.core.stock.adjustments import MAX_DOCUMENT_LINES, Adjustment
from chalicelib.core.stock.expiry import MAX_LOTS, ExpiredLot
from chalicelib.core.stock.lots import MAX_LOT_NUMBER
from chalicelib.core.stock.views import InventoryRow, LocationTotals, ProductLevels, Totals
from chalicelib.http.asof import AsOfQuery

Number = Annotated[
    Decimal,
    Field(
        max_digits=20,
        decimal_places=6,
        allow_inf_nan=False,
        description="Exact decimal: at most 20 digits, 6 after the point",
    ),
]
Id = Annotated[str, Field(min_length=1, max_length=100)]
Text = Annotated[str, Field(max_length=2000)]
LotNumber = Annotated[str, Field(min_length=1, max_length=MAX_LOT_NUMBER)]


class In(Body):
    """Request bodies: an unknown field is a 400 naming it."""


# -- paging -------------------------------------------------------------------------


class PageQuery(Model):
    page: int = Field(1, ge=1, le=1_000_000, description="Page number, from 1")
    limit: int = Field(50, ge=1, le=200, description="Page size (default 50, max 200)")


def page(items: Sequence[Any], query: PageQuery) -> dict[str, Any]:
    """One page of `items` (already in order) and its pagination block."""
    total = len(items)
    start = (query.page - 1) * query.limit
    return {
        "data": list(items[start : start + query.limit]),
        "pagination": {
            "page": query.page,
            "limit": query.limit,
            "total": total,
            "totalPages": math.ceil(total / query.limit) if total else 0,
        },
    }


def window(total: int, query: PageQuery) -> slice:
    start = (query.page - 1) * query.limit
    return slice(start, min(total, start + query.limit))


def pagination(total: int, query: PageQuery) -> dict[str, int]:
    return {
        "page": query.page,
        "limit": query.limit,
        "total": total,
        "totalPages": math.ceil(total / query.limit) if total else 0,
    }


class LocationsQuery(PageQuery, AsOfQuery):
    pass


class InventoryQuery(PageQuery, AsOfQuery):
    limit: int = Field(20, ge=1, le=100, description="Page size (default 20, max 100)")
    locationId: Id | None = None
    productMasterId: Id | None = None
    lotId: Id | None = None
    binId: Id | None = None


class AdjustmentsQuery(PageQuery):
    productMasterId: Id | None = None
    locationId: Id | None = None
    reasonCode: Annotated[str, Field(max_length=40)] | None = None
    fromDate: datetime | None = None
    toDate: datetime | None = None


class HoldsQuery(PageQuery):
    status: ClaimStatus | None = Field(None, description="active, released or expired")


class ExpiredQuery(PageQuery):
    locationId: Id | None = None
    asOf: date | None = Field(None, description="The day to judge expiry on (default today, UTC)")


class BinsQuery(PageQuery):
    locationId: Id | None = None


class ValidateQuery(In):
    productMasterId: Id
    lotNumber: LotNumber | None = None
    expiryDate: date | None = None


# -- requests ---------------------------------------------------------------------------


class PlaceIn(In):
    productMasterId: Id
    locationId: Id
    binId: Id | None = None
    lotId: Id | None = None


class RecordStockIn(In):
    productMasterId: Id
    locationId: Id
    binId: Id | None = None
    quantity: Number = Field(gt=0)
    lotNumber: LotNumber | None = None
    expiryDate: date | None = None
    unitCost: Number | None = Field(None, ge=0)
    reference: Annotated[str, Field(max_length=200)] | None = None


class AdjustIn(PlaceIn):
    quantityChange: Number = Field(description="Signed change of on-hand, not 0")
    reasonCode: Annotated[str, Field(min_length=1, max_length=40)]
    notes: Text | None = None
    reference: Annotated[str, Field(max_length=200)] | None = None
    expectedOnHand: Number | None = Field(None, description="Compare-and-set: apply only if on-hand is this")


class AdjustmentLineIn(PlaceIn):
    quantityChange: Number


class AdjustmentIn(In):
    reasonCode: Annotated[str, Field(min_length=1, max_length=40)]
    notes: Text | None = None
    reference: Annotated[str, Field(max_length=200)] | None = None
    lines: list[AdjustmentLineIn] = Field(min_length=1, max_length=MAX_DOCUMENT_LINES)


class CountIn(PlaceIn):
    countedQuantity: Number = Field(ge=0)
    reasonCode: Annotated[str, Field(min_length=1, max_length=40)] = "CYCLE_COUNT"
    notes: Text | None = None


class LotCorrectionIn(In):
    productMasterId: Id
    locationId: Id
    binId: Id | None = None
    fromLotId: Id
    toLotId: Id | None = None
    toLotNumber: LotNumber | None = None
    expiryDate: date | None = None
    quantity: Number = Field(gt=0)
    notes: Text | None = None


class HoldIn(PlaceIn):
    quantity: Number = Field(gt=0)
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    expiresAt: datetime | None = None


class ReleaseIn(In):
    holdId: Id
    quantity: Number | None = Field(None, gt=0, description="How much to release (default: all of it)")


class LotsIn(In):
    lotIds: list[Id] = Field(min_length=1, max_length=MAX_LOTS)


class DestructionIn(LotsIn):
    binId: Id


class BinIn(In):
    locationId: Id
    code: Annotated[str, Field(min_length=1, max_length=50)]
    zone: Annotated[str, Field(max_length=50)] | None = None
    type: BinType = BinType.STORAGE
    capacity: Number | None = Field(None, ge=0)


class ValidateLineIn(In):
    """A line as record-stock would take it: its place, quantity and cost are accepted and not checked here."""

    read_only = frozenset({"locationId", "binId", "quantity", "unitCost", "reference"})

    productMasterId: Id
    lotNumber: LotNumber | None = None
    expiryDate: date | None = None


class ValidateIn(In):
    lines: list[ValidateLineIn] = Field(min_length=1, max_length=100)


# -- responses ---------------------------------------------------------------------------


class Page(Model):
    data: list[dict[str, Any]]
    pagination: dict[str, int]


def totals_out(totals: Totals) -> dict[str, Decimal]:
    return {
        "onHand": totals.on_hand,
        "reserved": totals.reserved,
        "held": totals.held,
        "available": totals.available,
        "inTransit": totals.in_transit,
    }


def row_out(row: InventoryRow) -> dict[str, Any]:
    r = row.record
    return {
        "id": r.stock_id,
        "productMasterId": r.product_id,
        "productName": row.product.name if row.product else r.name,
        "sku": row.product.sku if row.product else None,
        "locationId": r.location_id,
        "binId": r.bin_id,
        "lotId": r.lot_id,
        "lotNumber": row.lot.lot_number if row.lot else None,
        "expiryDate": row.lot.expiry_date if row.lot else None,
        "onHand": r.on_hand,
        "reserved": r.reserved,
        "held": r.held,
        "available": r.available,
        "inTransit": r.in_transit is not None,
        "transferId": r.in_transit,
    }


def location_out(entry: LocationTotals) -> dict[str, Any]:
    return {
        "locationId": entry.location_id,
        "name": entry.name,
        **totals_out(entry.totals),
        "productCount": len(entry.products),
    }


def levels_out(levels: ProductLevels) -> dict[str, Any]:
    locations = []
    for entry in levels.locations:
        bins = [
            {"binId": bin_id, "code": levels.bins[bin_id].code if bin_id in levels.bins else None, **totals_out(t)}
            for bin_id, t in entry.bins.items()
            if bin_id is not None
        ]
        lots = []
        for lot_id, t in entry.lots.items():
            if lot_id is None:
                continue
            lot = levels.lots.get(lot_id)
            lots.append(
                {
                    "lotId": lot_id,
                    "lotNumber": lot.lot_number if lot else None,
                    "expiryDate": lot.expiry_date if lot else None,
                    "status": lot.status if lot else None,
                    **totals_out(t),
                }
            )
        locations.append(
            {
                "locationId": entry.location_id,
                "name": entry.name,
                **totals_out(entry.totals),
                "bins": bins,
                "lots": lots,
            }
        )
    return {"productMasterId": levels.product.product_id, "totals": totals_out(levels.totals), "locations": locations}


def lot_out(lot: Lot) -> dict[str, Any]:
    return {
        "id": lot.lot_id,
        "lotNumber": lot.lot_number,
        "productMasterId": lot.product_id,
        "expiryDate": lot.expiry_date,
        "status": lot.status,
    }


def bin_out(bin_: Bin) -> dict[str, Any]:
    return {
        "id": bin_.bin_id,
        "locationId": bin_.location_id,
        "code": bin_.code,
        "zone": bin_.zone,
        "type": bin_.type,
        "capacity": bin_.capacity,
        "createdAt": bin_.created_at,
    }


def adjustment_out(document: Adjustment) -> dict[str, Any]:
    return {
        "id": document.adjustment_id,
        "type": document.kind,
        "reasonCode": document.reason_code,
        "notes": document.notes,
        "reference": document.reference,
        "createdAt": document.created_at,
        "createdBy": {"id": document.actor_id, "name": document.actor_name},
        "lines": [
            {
                "productMasterId": line.product_id,
                "locationId": line.location_id,
                "binId": line.bin_id,
                "lotId": line.lot_id,
                **({"toLotId": line.to_lot_id} if line.to_lot_id else {}),
                "quantityChange": line.quantity_change,
                **(
                    {"countedQuantity": line.counted_quantity, "previousOnHand": line.previous_on_hand}
                    if line.counted_quantity is not None
                    else {}
                ),
                "movementIds": line.movement_ids,
            }
            for line in document.lines
        ],
    }


def hold_out(hold: Hold) -> dict[str, Any]:
    return {
        "id": hold.hold_id,
        "productMasterId": hold.product_id,
        "locationId": hold.location_id,
        "binId": hold.bin_id,
        "lotId": hold.lot_id,
        "stockId": hold.stock_id,
        "quantity": hold.quantity,
        "releasedQuantity": hold.released_quantity,
        "reason": hold.reason,
        "status": hold.status,
        "expiresAt": hold.expires_at,
        "createdAt": hold.created_at,
        "updatedAt": hold.updated_at,
    }


def expired_out(entry: ExpiredLot) -> dict[str, Any]:
    return {
        **lot_out(entry.lot),
        "onHand": entry.on_hand,
        "held": entry.held,
        "stock": [
            {
                "stockId": r.stock_id,
                "locationId": r.location_id,
                "binId": r.bin_id,
                "onHand": r.on_hand,
                "reserved": r.reserved,
                "held": r.held,
                "available": r.available,
            }
            for r in entry.records
        ],
    }
