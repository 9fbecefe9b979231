"""001 transfers: `GET/POST /api/inventory/transfers`, `GET/POST /api/inventory/transfers/{id}`,
`GET /api/inventory/transfers/bins`. Rules: `features/transfers` (state machine `core/workflows.TRANSFER`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from chalicelib.core.tenancy.permissions import Permission
from chalicelib.core.workflows import TRANSFER, transition_out
from chalicelib.features.transfers import MAX_LINES, LineIn, Transfer, TransferFilter
from chalicelib.http.routing import Call, endpoint
from chalicelib.surfaces.warehouse import warehouse
from chalicelib.surfaces.warehouse.common import BIN_ID, LOCATION_ID, LOT_ID, PAGING, PRODUCT_ID, STOCK_ID
from chalicelib.surfaces.warehouse.models import Id, In, Number, Page, PageQuery, Text, page
from chalicelib.surfaces.warehouse.responses import TransferBinsOut, TransferOut
from chalicelib.wiring import catalog_service, transfer_service, warehouse_stock

TAG = "Warehouse: transfers"
READ = [Permission.TRANSFERS_READ]
WRITE = [Permission.TRANSFERS_WRITE]
TRANSFER_ID = "3f6b8d0a-2c4e-4a6f-8b1d-5e7f9a2c4d6e"
LINE_ID = "7a9c1e3f-5b7d-4f9a-8c2e-4f6a8c0e2b4d"
OTHER_LOCATION = "2c4e6a8f-0b1d-4e3f-9a5c-7e9f1b3d5a7c"


class TransferLineIn(In):
    productMasterId: Id
    lotId: Id | None = None
    quantity: Number = Field(gt=0)


class TransferIn(In):
    fromLocationId: Id
    toLocationId: Id
    fromBinId: Id | None = None
    toBinId: Id | None = None
    lines: list[TransferLineIn] = Field(min_length=1, max_length=MAX_LINES)
    notes: Text | None = None


class ActionLineIn(In):
    lineId: Id
    quantity: Number = Field(gt=0)


class TransferActionIn(In):
    action: Literal["ship", "receive", "cancel"]
    lines: list[ActionLineIn] | None = Field(None, max_length=MAX_LINES)
    comment: Text | None = None


class TransfersQuery(PageQuery):
    status: Literal["draft", "shipped", "received", "completed", "cancelled"] | None = None
    fromLocationId: Id | None = None
    toLocationId: Id | None = None
    productMasterId: Id | None = None


class TransferBinsQuery(In):
    locationId: Id


def transfer_out(t: Transfer) -> dict[str, Any]:
    return {
        "id": t.transfer_id,
        "fromLocationId": t.from_location_id,
        "toLocationId": t.to_location_id,
        "fromBinId": t.from_bin_id,
        "toBinId": t.to_bin_id,
        "notes": t.notes,
        "status": t.status,
        "allowedTransitions": TRANSFER.allowed(t.status),
        "lines": [
            {
                "id": line.line_id,
                "productMasterId": line.product_id,
                "lotId": line.lot_id,
                "quantity": line.quantity,
                "shippedQuantity": line.shipped,
                "receivedQuantity": line.received,
                "returnedQuantity": line.returned,
                "inTransitQuantity": line.in_transit,
                "picks": [
                    {
                        "stockId": p.source_stock_id,
                        "binId": p.bin_id,
                        "lotId": p.lot_id,
                        "quantity": p.quantity,
                        "inTransitStockId": p.transit_stock_id,
                    }
                    for p in line.picks
                ],
            }
            for line in t.lines
        ],
        "history": [transition_out(h) for h in t.history],
        "createdBy": {"id": t.created_by_id, "name": t.created_by_name},
        "createdAt": t.created_at,
        "updatedAt": t.updated_at,
        "version": t.version,
    }


EXAMPLE_LINE = {
    "id": LINE_ID,
    "productMasterId": PRODUCT_ID,
    "lotId": LOT_ID,
    "quantity": 10,
    "shippedQuantity": 10,
    "receivedQuantity": 4,
    "returnedQuantity": 0,
    "inTransitQuantity": 6,
    "picks": [{"stockId": STOCK_ID, "binId": None, "lotId": LOT_ID, "quantity": 10, "inTransitStockId": STOCK_ID}],
}
EXAMPLE = {
    "id": TRANSFER_ID,
    "fromLocationId": LOCATION_ID,
    "toLocationId": OTHER_LOCATION,
    "fromBinId": None,
    "toBinId": None,
    "notes": "Weekly top-up",
    "status": "shipped",
    "allowedTransitions": ["receive", "cancel"],
    "lines": [EXAMPLE_LINE],
    "history": [
        {
            "action": "ship",
            "from": "draft",
            "to": "shipped",
            "by": {"id": "key-1", "name": "Warehouse key"},
            "at": "2026-12-06T09:30:00Z",
            "comment": None,
        }
    ],
    "createdBy": {"id": "key-1", "name": "Warehouse key"},
    "createdAt": "2026-12-06T09:00:00Z",
    "updatedAt": "2026-12-06T09:30:00Z",
    "version": 3,
}


@endpoint(
    warehouse,
    "/api/inventory/transfers",
    "POST",
    permissions=WRITE,
    summary="Create inventory transfer",
    tag=TAG,
    body=TransferIn,
    status=201,
    example={
        "fromLocationId": LOCATION_ID,
        "toLocationId": OTHER_LOCATION,
        "lines": [{"productMasterId": PRODUCT_ID, "quantity": 10}],
        "notes": "Weekly top-up",
    },
    response=TransferOut,
    response_example={**EXAMPLE, "status": "draft", "allowedTransitions": ["ship", "complete", "cancel"]},
    description=(
        "Between two locations: a `draft` (ship, receive and cancel it with `POST .../{id}`). Between two bins of "
        "one location (`fromBinId` / `toBinId`): the stock moves at once and the transfer is `completed` (short "
        "stock is a 409 `INSUFFICIENT_STOCK` naming `lines[i].quantity`, and nothing is created). A lot-controlled "
        "product without `lotId` goes first expiry first. Up to 200 lines; a big transfer is written in several "
        "transactions, each safe to retry. Another company's location, bin, product or lot is a 404 naming it. "
        "Permission: transfers.write."
    ),
)
def create_transfer(call: Call) -> dict[str, Any]:
    body: TransferIn = call.body
    created = transfer_service().create(
        call.tenant_id,
        body.fromLocationId,
        body.toLocationId,
        [LineIn(line.productMasterId, line.quantity, line.lotId) for line in body.lines],
        call.actor,
        from_bin_id=body.fromBinId,
        to_bin_id=body.toBinId,
        notes=body.notes,
        command_id=call.command_id,
    )
    return transfer_out(created)


@endpoint(
    warehouse,
    "/api/inventory/transfers",
    "GET",
    permissions=READ,
    summary="List inventory transfers",
    tag=TAG,
    query=TransfersQuery,
    response=Page,
    response_example={"data": [EXAMPLE], "pagination": {"page": 1, "limit": 50, "total": 1, "totalPages": 1}},
    description=(
        "Transfers, newest first, filtered by `status`, `fromLocationId`, `toLocationId`, `productMasterId`. "
        f"{PAGING} Permission: transfers.read."
    ),
)
def list_transfers(call: Call) -> dict[str, Any]:
    q: TransfersQuery = call.query
    wanted = TransferFilter(q.status, q.fromLocationId, q.toLocationId, q.productMasterId)
    return page([transfer_out(t) for t in transfer_service().find(call.tenant_id, wanted)], q)


@endpoint(
    warehouse,
    "/api/inventory/transfers/bins",
    "GET",
    permissions=READ,
    summary="Get transfer bins",
    tag=TAG,
    looks_up=True,
    query=TransferBinsQuery,
    response=TransferBinsOut,
    response_example={
        "locationId": LOCATION_ID,
        "bins": [
            {
                "id": BIN_ID,
                "code": "A-01-03",
                "zone": "A",
                "type": "storage",
                "capacity": 500,
                "onHand": 120,
                "fill": 0.24,
                "contents": [{"productMasterId": PRODUCT_ID, "lotId": LOT_ID, "stockId": STOCK_ID, "onHand": 120}],
            }
        ],
    },
    description=(
        "The bins of `locationId` (required) with what each holds and how full it is (`fill` = on hand / capacity, "
        "null without a capacity). Permission: transfers.read."
    ),
)
def transfer_bins(call: Call) -> dict[str, Any]:
    q: TransferBinsQuery = call.query
    stock = warehouse_stock()
    stock.location(call.tenant_id, q.locationId)
    records = [r for r in stock.inventory(call.tenant_id, location_id=q.locationId) if r.bin_id and r.on_hand != 0]
    bins = sorted(
        (b for b in catalog_service().list_bins(call.tenant_id, q.locationId) if b.active),
        key=lambda b: b.code.casefold(),
    )
    out = []
    for b in bins:
        inside = [r for r in records if r.bin_id == b.bin_id]
        on_hand = sum((r.on_hand for r in inside), Decimal(0))
        out.append(
            {
                "id": b.bin_id,
                "code": b.code,
                "zone": b.zone,
                "type": b.type.value,
                "capacity": b.capacity,
                "onHand": on_hand,
                "fill": (on_hand / b.capacity).quantize(Decimal("0.0001")) if b.capacity else None,
                "contents": [
                    {"productMasterId": r.product_id, "lotId": r.lot_id, "stockId": r.stock_id, "onHand": r.on_hand}
                    for r in inside
                ],
            }
        )
    return {"locationId": q.locationId, "bins": out}


@endpoint(
    warehouse,
    "/api/inventory/transfers/{id}",
    "GET",
    permissions=READ,
    summary="Get inventory transfer",
    tag=TAG,
    response=TransferOut,
    response_example=EXAMPLE,
    description=(
        "One transfer with its lines (shipped, received, returned, in transit), the transitions its state allows "
        "and its history. Another company's id is a 404. Permission: transfers.read."
    ),
)
def get_transfer(call: Call) -> dict[str, Any]:
    return transfer_out(transfer_service().get(call.tenant_id, call.path["id"]))


@endpoint(
    warehouse,
    "/api/inventory/transfers/{id}",
    "POST",
    permissions=WRITE,
    summary="Update inventory transfer",
    tag=TAG,
    body=TransferActionIn,
    example={"action": "receive", "lines": [{"lineId": LINE_ID, "quantity": 4}]},
    response=TransferOut,
    response_example=EXAMPLE,
    description=(
        "`ship` (draft -> shipped: the stock leaves the source and is in transit, held at the destination and "
        "available at neither end), `receive` (partial receipts line by line with `lines`; all in transit without; "
        "-> received when nothing is left in transit), `cancel` (a shipped transfer's stock in transit goes back "
        "where it came from). An action the state does not allow is a 409 naming the current state and the allowed "
        "transitions. Permission: transfers.write."
    ),
)
def update_transfer(call: Call) -> dict[str, Any]:
    body: TransferActionIn = call.body
    lines: dict[str, Decimal] | None = None
    if body.lines is not None:
        lines = {}
        for line in body.lines:
            lines[line.lineId] = lines.get(line.lineId, Decimal(0)) + line.quantity
    moved = transfer_service().act(
        call.tenant_id,
        call.path["id"],
        body.action,
        call.actor,
        lines=lines,
        comment=body.comment,
        command_id=call.command_id,
    )
    return transfer_out(moved)
