"""001 cycle counts: `/api/inventory/cycle-count...` (the document's appendix `/cycle-count` paths are the
same routes). Rules: `features/cycle_counts` (workflow `core/workflows.CYCLE_COUNT`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.tenancy.permissions import Permission
from chalicelib.core.workflows import CYCLE_COUNT, transition_out
from chalicelib.features.cycle_counts import MAX_LINES, CycleCount, LineIn
from chalicelib.http.routing import Call, endpoint
from chalicelib.surfaces.warehouse import warehouse
from chalicelib.surfaces.warehouse.common import BIN_ID, LOCATION_ID, LOT_ID, PAGING, PRODUCT_ID
from chalicelib.surfaces.warehouse.models import Id, In, Number, Page, PageQuery, page
from chalicelib.surfaces.warehouse.responses import AbcOut, BlindFormOut, CycleCountOut
from chalicelib.wiring import catalog_service, cycle_count_service, warehouse_stock

TAG = "Warehouse: cycle counts"
COUNT = [Permission.INVENTORY_CYCLECOUNT]
BATCH_ID = "1b3d5f7a-9c1e-4a3c-8e5a-7c9e1a3b5d7f"
LINE_ID = "6d8f0a2c-4e6a-4c8e-9a0c-2e4a6c8e0a2b"
Name = Field(min_length=1, max_length=200)


class CountLineIn(In):
    productMasterId: Id
    binId: Id | None = None
    lotId: Id | None = None


class CycleCountIn(In):
    name: str = Name
    locationId: Id
    blind: bool = False
    lines: list[CountLineIn] | None = Field(None, max_length=MAX_LINES)
    binIds: list[Id] | None = Field(None, max_length=MAX_LINES)
    productMasterIds: list[Id] | None = Field(None, max_length=MAX_LINES)


class LineCountIn(In):
    lineId: Id
    countedQuantity: Number = Field(ge=0)


class BatchUpdateIn(In):
    status: Literal["counting", "review", "cancelled"] | None = None
    counts: list[LineCountIn] | None = Field(None, max_length=MAX_LINES)


class DecisionIn(In):
    lineId: Id
    action: Literal["accept", "recount", "reject"]


class ResolveIn(In):
    batchId: Id
    lines: list[DecisionIn] = Field(min_length=1, max_length=MAX_LINES)


class AbcQuery(In):
    locationId: Id | None = None
    days: int = Field(365, ge=1, le=3650)


class AbcIn(In):
    classes: list[Literal["A", "B", "C", "a", "b", "c"]] = Field(min_length=1, max_length=3)
    locationId: Id
    name: str | None = Field(None, min_length=1, max_length=200)
    blind: bool = False


class BatchesQuery(PageQuery):
    status: Literal["open", "counting", "review", "completed", "cancelled"] | None = None
    locationId: Id | None = None


class BlindQuery(In):
    batchId: Id


def batch_out(b: CycleCount) -> dict[str, Any]:
    shown = b.shows_expected
    return {
        "id": b.batch_id,
        "name": b.name,
        "locationId": b.location_id,
        "status": b.status,
        "blind": b.blind,
        "abcClasses": b.abc_classes,
        "allowedTransitions": CYCLE_COUNT.allowed(b.status),
        "lines": [
            {
                "id": line.line_id,
                "productMasterId": line.product_id,
                "binId": line.bin_id,
                "lotId": line.lot_id,
                **({"expectedQuantity": line.expected_quantity, "variance": line.variance} if shown else {}),
                "countedQuantity": line.counted_quantity,
                "resolution": line.resolution,
                "adjustmentId": line.adjustment_id,
            }
            for line in b.lines
        ],
        "history": [transition_out(t) for t in b.history],
        "createdBy": {"id": b.created_by_id, "name": b.created_by_name},
        "createdAt": b.created_at,
        "updatedAt": b.updated_at,
        "version": b.version,
    }


LINE = {
    "id": LINE_ID,
    "productMasterId": PRODUCT_ID,
    "binId": BIN_ID,
    "lotId": LOT_ID,
    "expectedQuantity": 40,
    "variance": -2,
    "countedQuantity": 38,
    "resolution": None,
    "adjustmentId": None,
}
EXAMPLE = {
    "id": BATCH_ID,
    "name": "Aisle A weekly",
    "locationId": LOCATION_ID,
    "status": "review",
    "blind": True,
    "abcClasses": [],
    "allowedTransitions": ["count", "resolve", "cancel"],
    "lines": [LINE],
    "history": [],
    "createdBy": {"id": "key-1", "name": "Counter"},
    "createdAt": "2026-12-06T09:00:00Z",
    "updatedAt": "2026-12-06T09:30:00Z",
    "version": 3,
}
BLIND_LINE = {k: v for k, v in LINE.items() if k not in {"expectedQuantity", "variance"}}
OPEN = {
    **EXAMPLE,
    "status": "open",
    "allowedTransitions": ["count", "review", "cancel"],
    "lines": [{**BLIND_LINE, "countedQuantity": None}],
    "version": 1,
}
STATE = "An action the batch's state does not allow is a 409 naming the current state and the allowed transitions."


@endpoint(
    warehouse,
    "/api/inventory/cycle-count",
    "POST",
    permissions=COUNT,
    summary="Create cycle count batch",
    tag=TAG,
    body=CycleCountIn,
    status=201,
    example={"name": "Aisle A weekly", "locationId": LOCATION_ID, "blind": True, "binIds": [BIN_ID]},
    response=CycleCountOut,
    response_example=OPEN,
    description=(
        "A batch of `lines` (product, bin?, lot?), else one line per product found in `binIds`, or per product of "
        "`productMasterIds`, at `locationId`. Each line's expected quantity (on hand at that place; in-transit stock "
        "excluded) is taken now: the variance is always against it. A blind batch hides expected quantities until "
        "review. Permission: inventory.cyclecount."
    ),
)
def create_batch(call: Call) -> dict[str, Any]:
    b: CycleCountIn = call.body
    created = cycle_count_service().create(
        call.tenant_id,
        b.name,
        b.locationId,
        call.actor,
        blind=b.blind,
        lines=[LineIn(line.productMasterId, line.binId, line.lotId) for line in b.lines or []],
        bin_ids=b.binIds,
        product_ids=b.productMasterIds,
        command_id=call.command_id,
    )
    return batch_out(created)


@endpoint(
    warehouse,
    "/api/inventory/cycle-count",
    "GET",
    permissions=COUNT,
    summary="List cycle count batches",
    tag=TAG,
    query=BatchesQuery,
    response=Page,
    response_example={"data": [EXAMPLE], "pagination": {"page": 1, "limit": 50, "total": 1, "totalPages": 1}},
    description=f"Batches, newest first, filtered by `status` and `locationId`. {PAGING} "
    "Permission: inventory.cyclecount.",
)
def list_batches(call: Call) -> dict[str, Any]:
    q: BatchesQuery = call.query
    return page([batch_out(b) for b in cycle_count_service().find(call.tenant_id, q.status, q.locationId)], q)


@endpoint(
    warehouse,
    "/api/inventory/cycle-count/blind-form",
    "GET",
    permissions=COUNT,
    summary="Get blind cycle count form",
    tag=TAG,
    looks_up=True,
    query=BlindQuery,
    response=BlindFormOut,
    response_example={
        "batchId": BATCH_ID,
        "name": "Aisle A weekly",
        "locationId": LOCATION_ID,
        "status": "open",
        "lines": [
            {
                "id": LINE_ID,
                "productMasterId": PRODUCT_ID,
                "productName": "Flour",
                "sku": "FL-1",
                "binId": BIN_ID,
                "binCode": "A-01",
                "lotId": LOT_ID,
                "lotNumber": "L-7",
                "countedQuantity": None,
            }
        ],
    },
    description="The lines of `batchId` to count, with product, bin and lot names: never any expected quantity. "
    "Permission: inventory.cyclecount.",
)
def blind_form(call: Call) -> dict[str, Any]:
    q: BlindQuery = call.query
    b = cycle_count_service().get(call.tenant_id, q.batchId)
    products = catalog_service().get_products(call.tenant_id, list({line.product_id for line in b.lines}))
    lots = warehouse_stock().lots(call.tenant_id, [line.lot_id for line in b.lines if line.lot_id])
    bins = {x.bin_id: x.code for x in catalog_service().list_bins(call.tenant_id, b.location_id)}
    return {
        "batchId": b.batch_id,
        "name": b.name,
        "locationId": b.location_id,
        "status": b.status,
        "lines": [
            {
                "id": line.line_id,
                "productMasterId": line.product_id,
                "productName": products[line.product_id].name if line.product_id in products else None,
                "sku": products[line.product_id].sku if line.product_id in products else None,
                "binId": line.bin_id,
                "binCode": bins.get(line.bin_id) if line.bin_id else None,
                "lotId": line.lot_id,
                "lotNumber": lots[line.lot_id].lot_number if line.lot_id in lots else None,
                "countedQuantity": line.counted_quantity,
            }
            for line in b.lines
        ],
    }


ABC_ROW = {
    "productMasterId": PRODUCT_ID,
    "productName": "Flour",
    "sku": "FL-1",
    "outboundQuantity": 1200,
    "outboundValue": 2400,
    "share": 0.61,
    "class": "A",
    "countFrequencyDays": 30,
}


@endpoint(
    warehouse,
    "/api/inventory/cycle-count/abc",
    "GET",
    permissions=COUNT,
    summary="Get ABC classification for cycle counting",
    tag=TAG,
    looks_up=True,
    query=AbcQuery,
    response=AbcOut,
    response_example={"days": 365, "locationId": None, "data": [ABC_ROW]},
    description=(
        "Products by the value of their outbound movements (shipments, consumption, transfers out; at `locationId` "
        "when given) over the last `days` (365), read from the ledger's time index: A the products making the "
        "first 80% of the value, B the next 15%, C the rest (and products with stock that moved nothing out). "
        "Value = units x cost price (else unit price, else 1). Count frequency: A 30 days, B 90, C 365. "
        "Permission: inventory.cyclecount."
    ),
)
def abc(call: Call) -> dict[str, Any]:
    q: AbcQuery = call.query
    rows = cycle_count_service().abc(call.tenant_id, q.locationId, q.days)
    return {"days": q.days, "locationId": q.locationId, "data": rows}


@endpoint(
    warehouse,
    "/api/inventory/cycle-count/abc",
    "POST",
    permissions=COUNT,
    summary="Create ABC-based cycle count",
    tag=TAG,
    body=AbcIn,
    status=201,
    example={"classes": ["A"], "locationId": LOCATION_ID},
    response=CycleCountOut,
    response_example={**OPEN, "name": "ABC A count", "abcClasses": ["A"], "blind": False},
    description="A batch of every product of `classes` at `locationId` (one line per product). No product in "
    "those classes is a 400 naming `classes`. Permission: inventory.cyclecount.",
)
def create_abc(call: Call) -> dict[str, Any]:
    b: AbcIn = call.body
    created = cycle_count_service().create_abc(
        call.tenant_id,
        [c.upper() for c in b.classes],
        b.locationId,
        call.actor,
        name=b.name,
        blind=b.blind,
        command_id=call.command_id,
    )
    return batch_out(created)


@endpoint(
    warehouse,
    "/api/inventory/cycle-count/resolve",
    "POST",
    permissions=COUNT,
    summary="Resolve cycle count discrepancies",
    tag=TAG,
    body=ResolveIn,
    example={"batchId": BATCH_ID, "lines": [{"lineId": LINE_ID, "action": "accept"}]},
    response=CycleCountOut,
    response_example={**EXAMPLE, "status": "completed", "lines": [{**LINE, "resolution": "accepted"}]},
    description=(
        "For a batch in review: `accept` applies the line's variance (counted - expected at the snapshot) as a "
        "CYCLE_COUNT adjustment, so stock that moved while people counted is neither lost nor counted twice "
        "(documents of up to 40 lines, each one transaction, each safe to retry); `recount` clears the count "
        "(the batch goes back to counting); `reject` closes the line without a change. Every line resolved "
        f"completes the batch. {STATE} Permission: inventory.cyclecount."
    ),
)
def resolve(call: Call) -> dict[str, Any]:
    b: ResolveIn = call.body
    decisions = {d.lineId: d.action for d in b.lines}
    if len(decisions) != len(b.lines):
        raise ValidationFailed("a line is named twice", [{"field": "lines", "message": "each lineId once"}])
    return batch_out(cycle_count_service().resolve(call.tenant_id, b.batchId, decisions, call.actor))


@endpoint(
    warehouse,
    "/api/inventory/cycle-count/{batchId}",
    "GET",
    permissions=COUNT,
    summary="Get cycle count batch details",
    tag=TAG,
    response=CycleCountOut,
    response_example=EXAMPLE,
    description="One batch; expected quantities and variances are left out while the batch is blind and not yet "
    "in review. Another company's id is a 404. Permission: inventory.cyclecount.",
)
def get_batch(call: Call) -> dict[str, Any]:
    return batch_out(cycle_count_service().get(call.tenant_id, call.path["batchId"]))


@endpoint(
    warehouse,
    "/api/inventory/cycle-count/{batchId}",
    "POST",
    permissions=COUNT,
    summary="Update cycle count batch",
    tag=TAG,
    body=BatchUpdateIn,
    example={"counts": [{"lineId": LINE_ID, "countedQuantity": 38}], "status": "review"},
    response=CycleCountOut,
    response_example=EXAMPLE,
    description=(
        "Records `counts` (the batch moves to counting) and/or moves the batch: `review` (every line counted, else "
        f"400 naming the first line), `counting`, `cancelled`. {STATE} Permission: inventory.cyclecount."
    ),
)
def update_batch(call: Call) -> dict[str, Any]:
    b: BatchUpdateIn = call.body
    counts: dict[str, Decimal] | None = None
    if b.counts:
        counts = {c.lineId: c.countedQuantity for c in b.counts}
    updated = cycle_count_service().update(
        call.tenant_id, call.path["batchId"], call.actor, status=b.status, counts=counts
    )
    return batch_out(updated)
