"""001 expiry: `GET /api/inventory/expired`, `.../mark-expired`, `.../mark-consumed`, `.../transfer-destruction`."""

from __future__ import annotations

from typing import Any

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
    TAG_HOLDS,
    WRITE,
)
from chalicelib.surfaces.warehouse.models import DestructionIn, ExpiredQuery, LotsIn, Page, expired_out, page
from chalicelib.surfaces.warehouse.responses import ExpiredLotsOut, MovementsOut
from chalicelib.wiring import warehouse_stock

BASE = "/api/inventory/expired"
MOVE = "7b9d1f3a-5c2e-4a6b-8d0f-2e4a6c8e0b3d"
LOT = {
    "id": LOT_ID,
    "lotNumber": "L2025-02",
    "productMasterId": PRODUCT_ID,
    "expiryDate": "2026-11-30",
    "status": "expired",
}
EXPIRED = {
    **LOT,
    "onHand": 40,
    "held": 40,
    "stock": [
        {
            "stockId": STOCK_ID,
            "locationId": LOCATION_ID,
            "binId": None,
            "onHand": 40,
            "reserved": 0,
            "held": 40,
            "available": 0,
        }
    ],
}
MOVEMENTS = {
    "movements": [
        {
            "id": f"{MOVE}:0",
            "stockId": STOCK_ID,
            "locationId": LOCATION_ID,
            "kind": "consumption",
            "quantity": -40,
            "reason": "EXPIRED",
        }
    ]
}


def _movements_out(movements: list[Any]) -> dict[str, Any]:
    return {
        "movements": [
            {
                "id": m.movement_id,
                "stockId": m.stock_id,
                "locationId": m.location_id,
                "kind": m.kind,
                "quantity": m.quantity,
                "reason": m.reason,
            }
            for m in movements
        ]
    }


@endpoint(
    warehouse,
    BASE,
    "GET",
    permissions=READ,
    summary="List expired inventory",
    tag=TAG_HOLDS,
    query=ExpiredQuery,
    response=Page,
    response_example={"data": [EXPIRED], "pagination": {"page": 1, "limit": 50, "total": 1, "totalPages": 1}},
    description=(
        "Lots past their expiry date on `asOf` (default today, UTC) or marked expired, with the stock that still "
        f"holds them (at `locationId` when given). {PAGING} Permission: inventory.read."
    ),
)
def list_expired(call: Call) -> dict[str, Any]:
    query: ExpiredQuery = call.query
    found = warehouse_stock().expired(call.tenant_id, query.asOf, query.locationId)
    return page([expired_out(e) for e in found], query)


@endpoint(
    warehouse,
    f"{BASE}/mark-expired",
    "POST",
    permissions=WRITE,
    summary="Mark inventory as expired",
    tag=TAG_HOLDS,
    body=LotsIn,
    example={"lotIds": [LOT_ID]},
    response=ExpiredLotsOut,
    response_example={"data": [EXPIRED]},
    description=(
        "Marks each lot expired and holds the available stock of every record of it (reason EXPIRED), per lot in "
        "ONE transaction; the daily `expiry` schedule does the same for every lot past its date. Marking twice "
        "changes nothing more. Another company's lot is a 404 naming `lotIds[i]`. Permission: inventory.write."
    ),
)
def mark_expired(call: Call) -> dict[str, Any]:
    body: LotsIn = call.body
    service = warehouse_stock()
    service.mark_expired(call.tenant_id, body.lotIds, call.actor)
    # The lots and their records as the marking left them.
    return {"data": [expired_out(e) for e in service.lots_with_stock(call.tenant_id, body.lotIds)]}


@endpoint(
    warehouse,
    f"{BASE}/mark-consumed",
    "POST",
    permissions=WRITE,
    summary="Mark expired inventory as consumed",
    tag=TAG_HOLDS,
    body=LotsIn,
    example={"lotIds": [LOT_ID]},
    response=MovementsOut,
    response_example=MOVEMENTS,
    description=(
        "Writes off the unreserved stock of each lot (a `consumption` movement, reason EXPIRED, per record) and "
        "closes its expiry holds, per lot in ONE transaction; the lot is marked expired. Reserved stock stays. "
        "Permission: inventory.write."
    ),
)
def mark_consumed(call: Call) -> dict[str, Any]:
    body: LotsIn = call.body
    return _movements_out(warehouse_stock().mark_consumed(call.tenant_id, body.lotIds, call.actor))


@endpoint(
    warehouse,
    f"{BASE}/transfer-destruction",
    "POST",
    permissions=WRITE,
    summary="Transfer expired inventory for destruction",
    tag=TAG_HOLDS,
    body=DestructionIn,
    example={"lotIds": [LOT_ID], "binId": BIN_ID},
    response=MovementsOut,
    response_example={
        "movements": [
            {
                "id": f"{MOVE}:0",
                "stockId": STOCK_ID,
                "locationId": LOCATION_ID,
                "kind": "transfer_out",
                "quantity": -40,
                "reason": "EXPIRED",
            },
            {
                "id": f"{MOVE}:1",
                "stockId": "1d3f5a7c-9e2b-5c4d-8f6a-0b2d4f6a8c1e",
                "locationId": LOCATION_ID,
                "kind": "transfer_in",
                "quantity": 40,
                "reason": "EXPIRED",
            },
        ]
    },
    description=(
        "Moves the unreserved stock of each lot into the bin `binId`, which must be a `destruction` bin (else 400 "
        "naming `binId`), where it stays held as expired; per record ONE transaction (out, in, holds moved). "
        "Permission: inventory.write."
    ),
)
def transfer_destruction(call: Call) -> dict[str, Any]:
    body: DestructionIn = call.body
    return _movements_out(warehouse_stock().transfer_destruction(call.tenant_id, body.lotIds, body.binId, call.actor))
