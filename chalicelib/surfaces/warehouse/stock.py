"""001 stock reads, receiving and lot control: `/api/inventory`, `/api/inventory/locations`,
`/api/products/{id}/inventory-levels`, `/api/inventory/record-stock`, `/api/inventory/lot-control/validate`."""

from __future__ import annotations

from typing import Any

from chalicelib.core.errors import NotFound
from chalicelib.core.stock.lots import Receipt
from chalicelib.core.stock.slots import Place
from chalicelib.core.tenancy.permissions import Permission
from chalicelib.http.asof import AS_OF, AsOfQuery
from chalicelib.http.routing import Call, endpoint
from chalicelib.surfaces.warehouse import warehouse
from chalicelib.surfaces.warehouse.common import (
    BIN_ID,
    LOCATION_ID,
    LOT_ID,
    PAGING,
    PRODUCT_ID,
    READ,
    STOCK_ID,
    TAG_STOCK,
    WRITE,
)
from chalicelib.surfaces.warehouse.models import (
    InventoryQuery,
    LocationsQuery,
    Page,
    RecordStockIn,
    ValidateIn,
    ValidateQuery,
    adjustment_out,
    levels_out,
    location_out,
    page,
    pagination,
    row_out,
    window,
)
from chalicelib.surfaces.warehouse.responses import AdjustmentOut, LevelsOut, ValidationOut, ValidationsOut
from chalicelib.wiring import warehouse_stock

ROW = {
    "id": STOCK_ID,
    "productMasterId": PRODUCT_ID,
    "productName": "Vitamin C 500mg",
    "sku": "VITC-500",
    "locationId": LOCATION_ID,
    "binId": BIN_ID,
    "lotId": LOT_ID,
    "lotNumber": "L2026-11",
    "expiryDate": "2027-11-30",
    "onHand": 120,
    "reserved": 20,
    "held": 0,
    "available": 100,
}
TOTALS = {"onHand": 120, "reserved": 20, "held": 0, "available": 100, "inTransit": 0}


@endpoint(
    warehouse,
    "/api/inventory",
    "GET",
    permissions=READ,
    summary="List inventory items",
    tag=TAG_STOCK,
    query=InventoryQuery,
    response=Page,
    response_example={"data": [ROW], "pagination": {"page": 1, "limit": 20, "total": 1, "totalPages": 1}},
    description=(
        "One row per stock record (whichever API wrote it), filtered by `locationId`, `productMasterId`, `lotId`, "
        f"`binId`. `limit` default 20, max 100. {PAGING} {AS_OF} The rows are then the records that existed at "
        "`asOf` (one deleted since included). Permission: inventory.read."
    ),
)
def list_inventory(call: Call) -> dict[str, Any]:
    query: InventoryQuery = call.query
    service = warehouse_stock()
    records = service.inventory(
        call.tenant_id,
        location_id=query.locationId,
        product_id=query.productMasterId,
        lot_id=query.lotId,
        bin_id=query.binId,
        as_of=query.asOf,
    )
    rows = service.rows(call.tenant_id, records[window(len(records), query)], as_of=query.asOf)
    return {"data": [row_out(r) for r in rows], "pagination": pagination(len(records), query)}


@endpoint(
    warehouse,
    "/api/inventory/locations",
    "GET",
    permissions=READ,
    summary="List inventory by location",
    tag=TAG_STOCK,
    query=LocationsQuery,
    response=Page,
    response_example={
        "data": [{"locationId": LOCATION_ID, "name": "Main Warehouse", **TOTALS, "productCount": 12}],
        "pagination": {"page": 1, "limit": 50, "total": 1, "totalPages": 1},
    },
    description=(
        f"Totals per active location and how many products it holds. {PAGING} {AS_OF} Permission: inventory.read."
    ),
)
def list_by_location(call: Call) -> dict[str, Any]:
    query: LocationsQuery = call.query
    found = warehouse_stock().by_location(call.tenant_id, as_of=query.asOf)
    return page([location_out(e) for e in found], call.query)


@endpoint(
    warehouse,
    "/api/products/{id}/inventory-levels",
    "GET",
    permissions=[Permission.PRODUCTS_READ, Permission.INVENTORY_READ],
    summary="Get product inventory levels",
    tag=TAG_STOCK,
    query=AsOfQuery,
    response=LevelsOut,
    response_example={
        "productMasterId": PRODUCT_ID,
        "totals": TOTALS,
        "locations": [
            {
                "locationId": LOCATION_ID,
                "name": "Main Warehouse",
                **TOTALS,
                "bins": [{"binId": BIN_ID, "code": "A-01-03", **TOTALS}],
                "lots": [
                    {"lotId": LOT_ID, "lotNumber": "L2026-11", "expiryDate": "2027-11-30", "status": "active", **TOTALS}
                ],
            }
        ],
    },
    description=(
        "A product's totals and its stock per location, by bin and by lot. Another company's product is a 404. "
        f"{AS_OF} Permissions: products.read and inventory.read."
    ),
)
def product_levels(call: Call) -> dict[str, Any]:
    query: AsOfQuery = call.query
    return levels_out(warehouse_stock().product_levels(call.tenant_id, call.path["id"], as_of=query.asOf))


@endpoint(
    warehouse,
    "/api/inventory/record-stock",
    "POST",
    permissions=WRITE,
    summary="Record stock",
    tag=TAG_STOCK,
    body=RecordStockIn,
    status=201,
    example={
        "productMasterId": PRODUCT_ID,
        "locationId": LOCATION_ID,
        "binId": BIN_ID,
        "quantity": 120,
        "lotNumber": "L2026-11",
        "expiryDate": "2027-11-30",
        "unitCost": 2.35,
        "reference": "PO-4411",
    },
    response=AdjustmentOut,
    response_example={
        "id": "0f5e2b7c-1a3d-4e6f-8b9c-2d4e6f8a0b1c",
        "type": "receipt",
        "reasonCode": "RECEIVED",
        "notes": None,
        "reference": "PO-4411",
        "createdAt": "2026-12-06T09:30:00Z",
        "createdBy": {"id": "key:k1", "name": "Receiving"},
        "lines": [
            {
                "productMasterId": PRODUCT_ID,
                "locationId": LOCATION_ID,
                "binId": BIN_ID,
                "lotId": LOT_ID,
                "quantityChange": 120,
                "movementIds": ["0f5e2b7c-1a3d-4e6f-8b9c-2d4e6f8a0b1c:0"],
            }
        ],
    },
    description=(
        "Receives stock at a location (and bin): a `receipt` movement onto the record of that product, place and "
        "lot. A lot-controlled product without `lotNumber`, or an expiry-tracked one without `expiryDate`, is a "
        "400; a new lot number creates the lot; a known one with another expiry date is a 400. Another company's "
        "product, location or bin is a 404. Answers 201 with the receipt document. Permission: inventory.write."
    ),
)
def record_stock(call: Call) -> dict[str, Any]:
    body: RecordStockIn = call.body
    document, _ = warehouse_stock().record_stock(
        call.tenant_id,
        Place(body.productMasterId, body.locationId, body.binId),
        body.quantity,
        Receipt(body.lotNumber, body.expiryDate),
        call.actor,
        unit_cost=body.unitCost,
        reference=body.reference,
        command_id=call.command_id,
    )
    return adjustment_out(document)


def _validate_one(
    call: Call, product_id: str, lot_number: str | None, expiry: Any, index: int | None
) -> dict[str, Any]:
    service = warehouse_stock()
    try:
        product = service.product(call.tenant_id, product_id)
    except NotFound:
        if index is None:
            raise
        return {"valid": False, "errors": [{"field": f"lines[{index}].productMasterId", "message": "not found"}]}
    problems, _ = service.receipt_problems(call.tenant_id, product, Receipt(lot_number, expiry), index)
    return {"valid": not problems, "errors": problems}


@endpoint(
    warehouse,
    "/api/inventory/lot-control/validate",
    "GET",
    permissions=READ,
    summary="Get lot control validation",
    tag=TAG_STOCK,
    looks_up=True,
    query=ValidateQuery,
    response=ValidationOut,
    response_example={
        "valid": False,
        "errors": [{"field": "expiryDate", "message": "this product is expiry-tracked: an expiry date is required"}],
    },
    description=(
        "Whether receiving `productMasterId` with `lotNumber` and `expiryDate` passes lot control, by the rules "
        "record-stock applies. Another company's product is a 404. Permission: inventory.read."
    ),
)
def validate_one(call: Call) -> dict[str, Any]:
    query: ValidateQuery = call.query
    return _validate_one(call, query.productMasterId, query.lotNumber, query.expiryDate, None)


@endpoint(
    warehouse,
    "/api/inventory/lot-control/validate",
    "POST",
    permissions=READ,
    summary="Validate lot control",
    tag=TAG_STOCK,
    body=ValidateIn,
    example={"lines": [{"productMasterId": PRODUCT_ID, "lotNumber": "L2026-11", "expiryDate": "2027-11-30"}]},
    response=ValidationsOut,
    response_example={"valid": True, "lines": [{"valid": True, "errors": []}]},
    description=(
        "Checks each line as record-stock would (`{valid, errors: [{field, message}]}` per line, fields named "
        "`lines[i].x`); `valid` is true when every line is. Nothing is written. Permission: inventory.read."
    ),
)
def validate_many(call: Call) -> dict[str, Any]:
    body: ValidateIn = call.body
    lines = [
        _validate_one(call, line.productMasterId, line.lotNumber, line.expiryDate, i)
        for i, line in enumerate(body.lines)
    ]
    return {"valid": all(line["valid"] for line in lines), "lines": lines}
