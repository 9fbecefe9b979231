"""001 holds: `POST/GET /api/inventory/holds`, `POST /api/inventory/holds/release`."""

from __future__ import annotations

from typing import Any

from chalicelib.http.routing import Call, endpoint
from chalicelib.surfaces.warehouse import warehouse
from chalicelib.surfaces.warehouse.common import (
    LOCATION_ID,
    LOT_ID,
    PAGING,
    PRODUCT_ID,
    READ,
    STOCK_ID,
    TAG_HOLDS,
    WRITE,
    place,
)
from chalicelib.surfaces.warehouse.models import HoldIn, HoldsQuery, Page, ReleaseIn, hold_out, page
from chalicelib.surfaces.warehouse.responses import HoldOut
from chalicelib.wiring import warehouse_stock

HOLD = {
    "id": "6a4c2e8f-1b3d-4f5a-9c7e-2d4f6a8c0e1b",
    "productMasterId": PRODUCT_ID,
    "locationId": LOCATION_ID,
    "binId": None,
    "lotId": LOT_ID,
    "stockId": STOCK_ID,
    "quantity": 10,
    "releasedQuantity": 0,
    "reason": "Quality inspection",
    "status": "active",
    "expiresAt": "2026-12-08T17:00:00Z",
    "createdAt": "2026-12-06T09:30:00Z",
    "updatedAt": "2026-12-06T09:30:00Z",
}


@endpoint(
    warehouse,
    "/api/inventory/holds",
    "POST",
    permissions=WRITE,
    summary="Create inventory hold",
    tag=TAG_HOLDS,
    body=HoldIn,
    status=201,
    example={
        "productMasterId": PRODUCT_ID,
        "locationId": LOCATION_ID,
        "lotId": LOT_ID,
        "quantity": 10,
        "reason": "Quality inspection",
        "expiresAt": "2026-12-08T17:00:00Z",
    },
    response=HoldOut,
    response_example=HOLD,
    description=(
        "Holds stock of one record at the place: `held` rises and `available` drops in the same conditional write, "
        "so a hold and a reservation never both take the last units. More than a record there has available is a "
        "409 `INSUFFICIENT_STOCK`. Without `lotId` a lot-controlled product's hold goes to the lot that expires "
        "first. A hold past `expiresAt` is released by the `hold-expiry` schedule. Permission: inventory.write."
    ),
)
def create_hold(call: Call) -> dict[str, Any]:
    body: HoldIn = call.body
    hold = warehouse_stock().place_hold(
        call.tenant_id,
        place(body),
        body.quantity,
        body.reason,
        call.actor,
        expires_at=body.expiresAt,
        hold_id=call.command_id,
    )
    return hold_out(hold)


@endpoint(
    warehouse,
    "/api/inventory/holds/release",
    "POST",
    permissions=WRITE,
    summary="Release inventory hold",
    tag=TAG_HOLDS,
    body=ReleaseIn,
    example={"holdId": HOLD["id"], "quantity": 4},
    response=HoldOut,
    response_example={**HOLD, "quantity": 6, "releasedQuantity": 4},
    description=(
        "Gives back `quantity` of a hold (all of it when omitted; releasing all closes it, status `released`). "
        "A hold that is not active, or more than it holds, is a 409; another company's hold is a 404. "
        "Permission: inventory.write."
    ),
)
def release_hold(call: Call) -> dict[str, Any]:
    body: ReleaseIn = call.body
    return hold_out(warehouse_stock().release_hold_quantity(call.tenant_id, body.holdId, call.actor, body.quantity))


@endpoint(
    warehouse,
    "/api/inventory/holds",
    "GET",
    permissions=READ,
    summary="List inventory holds",
    tag=TAG_HOLDS,
    query=HoldsQuery,
    response=Page,
    response_example={"data": [HOLD], "pagination": {"page": 1, "limit": 50, "total": 1, "totalPages": 1}},
    description=(
        f"Holds, newest first, filtered by `status` (active, released, expired). {PAGING} Permission: inventory.read."
    ),
)
def list_holds(call: Call) -> dict[str, Any]:
    query: HoldsQuery = call.query
    return page([hold_out(h) for h in warehouse_stock().holds(call.tenant_id, query.status)], query)
