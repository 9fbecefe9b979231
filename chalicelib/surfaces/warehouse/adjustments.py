"""001 adjustments: reason codes, `adjust`, adjustment documents, counted stock, lot corrections."""

from __future__ import annotations

from typing import Any

from chalicelib.core.stock.adjustments import REASON_CODES, AdjustmentFilter, AdjustmentKind, LineIn
from chalicelib.core.stock.lots import Receipt
from chalicelib.core.stock.slots import Place
from chalicelib.http.routing import Call, endpoint
from chalicelib.surfaces.warehouse import warehouse
from chalicelib.surfaces.warehouse.common import (
    ADJUST,
    BIN_ID,
    LOCATION_ID,
    LOT_ID,
    PAGING,
    PRODUCT_ID,
    TAG_ADJUST,
    place,
)
from chalicelib.surfaces.warehouse.models import (
    AdjustIn,
    AdjustmentIn,
    AdjustmentsQuery,
    CountIn,
    LotCorrectionIn,
    Page,
    adjustment_out,
    page,
)
from chalicelib.surfaces.warehouse.responses import AdjustedOut, AdjustmentOut, ReasonCodesOut
from chalicelib.wiring import warehouse_stock

BASE = "/api/inventory/adjustments"
LINE: dict[str, Any] = {
    "productMasterId": PRODUCT_ID,
    "locationId": LOCATION_ID,
    "binId": BIN_ID,
    "lotId": LOT_ID,
    "quantityChange": -3,
    "movementIds": ["3c9e1f7a-5b2d-4c8e-9a6f-1d3b5e7f9a2c:0"],
}
DOCUMENT: dict[str, Any] = {
    "id": "3c9e1f7a-5b2d-4c8e-9a6f-1d3b5e7f9a2c",
    "type": "adjustment",
    "reasonCode": "DAMAGED",
    "notes": "Forklift damage, aisle 4",
    "reference": "INC-204",
    "createdAt": "2026-12-06T09:30:00Z",
    "createdBy": {"id": "key:k1", "name": "Floor team"},
    "lines": [
        {
            "productMasterId": PRODUCT_ID,
            "locationId": LOCATION_ID,
            "binId": BIN_ID,
            "lotId": LOT_ID,
            "quantityChange": -3,
            "movementIds": ["3c9e1f7a-5b2d-4c8e-9a6f-1d3b5e7f9a2c:0"],
        }
    ],
}
LIST_EXAMPLE = {"data": [DOCUMENT], "pagination": {"page": 1, "limit": 50, "total": 1, "totalPages": 1}}


def _filter(query: AdjustmentsQuery) -> AdjustmentFilter:
    return AdjustmentFilter(query.productMasterId, query.locationId, query.reasonCode, query.fromDate, query.toDate)


@endpoint(
    warehouse,
    f"{BASE}/reason-codes",
    "GET",
    permissions=ADJUST,
    summary="List adjustment reason codes",
    tag=TAG_ADJUST,
    response=ReasonCodesOut,
    response_example={"data": [{"code": "DAMAGED", "label": "Damaged", "direction": "decrease"}]},
    description=(
        "The reason codes an adjustment takes, each with the direction it allows (increase, decrease or either). "
        "An unknown code, or a change against its direction, is a 400. Permission: inventory.adjust."
    ),
)
def reason_codes(call: Call) -> dict[str, Any]:
    return {"data": [{"code": r.code, "label": r.label, "direction": r.direction} for r in REASON_CODES]}


@endpoint(
    warehouse,
    "/api/inventory/adjust",
    "POST",
    permissions=ADJUST,
    summary="Adjust inventory",
    tag=TAG_ADJUST,
    body=AdjustIn,
    status=201,
    example={
        "productMasterId": PRODUCT_ID,
        "locationId": LOCATION_ID,
        "binId": BIN_ID,
        "lotId": LOT_ID,
        "quantityChange": -3,
        "reasonCode": "DAMAGED",
        "notes": "Forklift damage, aisle 4",
        "expectedOnHand": 120,
    },
    response=AdjustedOut,
    response_example={**DOCUMENT, "onHand": 117},
    description=(
        "One signed change of on-hand at a place (`binId`, `lotId` narrow it) with a reason code, as an "
        "`adjustment` ledger movement. `expectedOnHand` is compare-and-set: when the place holds another figure "
        "(also when another writer gets in first) it is a 409 naming `expectedOnHand` with the current figure. "
        "A decrease below what is available is a 409 `INSUFFICIENT_STOCK`. A decrease of a lot-controlled product "
        "without `lotId` takes the lot that expires first (FEFO), never an expired or quarantined one. Answers 201 "
        "with the adjustment and the place's `onHand` after it. Permission: inventory.adjust."
    ),
)
def adjust(call: Call) -> dict[str, Any]:
    body: AdjustIn = call.body
    document, on_hand = warehouse_stock().adjust(
        call.tenant_id,
        place(body),
        body.quantityChange,
        body.reasonCode,
        call.actor,
        notes=body.notes,
        reference=body.reference,
        expected_on_hand=body.expectedOnHand,
        command_id=call.command_id,
    )
    return {**adjustment_out(document), "onHand": on_hand}


@endpoint(
    warehouse,
    BASE,
    "POST",
    permissions=ADJUST,
    summary="Create inventory adjustment",
    tag=TAG_ADJUST,
    body=AdjustmentIn,
    status=201,
    example={
        "reasonCode": "DAMAGED",
        "notes": "Forklift damage, aisle 4",
        "reference": "INC-204",
        "lines": [
            {
                "productMasterId": PRODUCT_ID,
                "locationId": LOCATION_ID,
                "binId": BIN_ID,
                "lotId": LOT_ID,
                "quantityChange": -3,
            }
        ],
    },
    response=AdjustmentOut,
    response_example=DOCUMENT,
    description=(
        "An adjustment document of up to 40 lines under one reason code, applied all or nothing in ONE "
        "transaction. A line short of stock is a 409 naming `lines[i].quantityChange`; another company's ids are "
        "a 404 naming the line's field; two lines on the same stock are a 400. Permission: inventory.adjust."
    ),
)
def create_adjustment(call: Call) -> dict[str, Any]:
    body: AdjustmentIn = call.body
    lines = [LineIn(place(line), line.quantityChange) for line in body.lines]
    document = warehouse_stock().adjust_document(
        call.tenant_id,
        body.reasonCode,
        lines,
        call.actor,
        notes=body.notes,
        reference=body.reference,
        command_id=call.command_id,
    )
    return adjustment_out(document)


@endpoint(
    warehouse,
    BASE,
    "GET",
    permissions=ADJUST,
    summary="List inventory adjustments",
    tag=TAG_ADJUST,
    query=AdjustmentsQuery,
    response=Page,
    response_example=LIST_EXAMPLE,
    description=(
        "Adjustments (single and documents), newest first, with their lines and who made them; filters "
        f"`productMasterId`, `locationId`, `reasonCode`, `fromDate`, `toDate`. {PAGING} Permission: inventory.adjust."
    ),
)
def list_adjustments(call: Call) -> dict[str, Any]:
    query: AdjustmentsQuery = call.query
    found = warehouse_stock().adjustments(call.tenant_id, AdjustmentKind.ADJUSTMENT, _filter(query))
    return page([adjustment_out(d) for d in found], query)


@endpoint(
    warehouse,
    f"{BASE}/record-stock",
    "POST",
    permissions=ADJUST,
    summary="Record stock adjustment",
    tag=TAG_ADJUST,
    body=CountIn,
    status=201,
    example={
        "productMasterId": PRODUCT_ID,
        "locationId": LOCATION_ID,
        "binId": BIN_ID,
        "lotId": LOT_ID,
        "countedQuantity": 118,
    },
    response=AdjustmentOut,
    response_example={
        **DOCUMENT,
        "type": "count",
        "reasonCode": "CYCLE_COUNT",
        "lines": [{**LINE, "quantityChange": -2, "countedQuantity": 118, "previousOnHand": 120}],
    },
    description=(
        "A counted quantity at a place becomes an adjustment of `countedQuantity - onHand` (reason CYCLE_COUNT "
        "unless `reasonCode` says otherwise), computed and applied atomically: every record read is guarded on "
        "its figure, so a movement landing meanwhile makes it count again and is never lost. Permission: "
        "inventory.adjust."
    ),
)
def record_count(call: Call) -> dict[str, Any]:
    body: CountIn = call.body
    document = warehouse_stock().count(
        call.tenant_id,
        place(body),
        body.countedQuantity,
        call.actor,
        reason_code=body.reasonCode,
        notes=body.notes,
        command_id=call.command_id,
    )
    return adjustment_out(document)


@endpoint(
    warehouse,
    f"{BASE}/record-stock",
    "GET",
    permissions=ADJUST,
    summary="List recorded stock adjustments",
    tag=TAG_ADJUST,
    query=AdjustmentsQuery,
    response=Page,
    response_example=LIST_EXAMPLE,
    description=f"Counted-stock adjustments, newest first, with the same filters as the adjustments list. {PAGING} "
    "Permission: inventory.adjust.",
)
def list_counts(call: Call) -> dict[str, Any]:
    query: AdjustmentsQuery = call.query
    found = warehouse_stock().adjustments(call.tenant_id, AdjustmentKind.COUNT, _filter(query))
    return page([adjustment_out(d) for d in found], query)


@endpoint(
    warehouse,
    f"{BASE}/lot-correction",
    "POST",
    permissions=ADJUST,
    summary="Create lot correction adjustment",
    tag=TAG_ADJUST,
    body=LotCorrectionIn,
    status=201,
    example={
        "productMasterId": PRODUCT_ID,
        "locationId": LOCATION_ID,
        "fromLotId": LOT_ID,
        "toLotNumber": "L2026-12",
        "expiryDate": "2027-12-31",
        "quantity": 10,
    },
    response=AdjustmentOut,
    response_example={
        **DOCUMENT,
        "type": "lot_correction",
        "reasonCode": "CORRECTION",
        "lines": [{**LINE, "quantityChange": -10, "toLotId": "9a8b7c6d-5e4f-5a3b-8c2d-1e0f9a8b7c6d"}],
    },
    description=(
        "Moves `quantity` at a place from `fromLotId` to `toLotId`, or to the lot `toLotNumber` (+ `expiryDate`, "
        "created when new, under lot control), as transfer movements with reason CORRECTION in ONE transaction. "
        "Not enough available in the source lot is a 409. Permission: inventory.adjust."
    ),
)
def lot_correction(call: Call) -> dict[str, Any]:
    body: LotCorrectionIn = call.body
    receipt = Receipt(body.toLotNumber, body.expiryDate) if body.toLotNumber else None
    document = warehouse_stock().lot_correction(
        call.tenant_id,
        Place(body.productMasterId, body.locationId, body.binId, body.fromLotId),
        body.toLotId,
        receipt,
        body.quantity,
        call.actor,
        notes=body.notes,
        command_id=call.command_id,
    )
    return adjustment_out(document)
