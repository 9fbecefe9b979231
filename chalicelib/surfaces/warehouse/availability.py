"""001 channels, availability records and ATP: `/api/inventory/channels`, `/api/inventory/availability...`,
`/api/inventory/channel-location...`, `/api/inventory/channel/summary`. Translation only."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.core.tenancy.permissions import Permission
from chalicelib.features.availability.model import ChannelRule
from chalicelib.features.availability.service import CheckLine
from chalicelib.http.routing import Call, endpoint
from chalicelib.surfaces.warehouse.channel_models import (
    AllocationIn,
    AvailabilityListQuery,
    AvailabilityOut,
    AvailabilityPage,
    AvailabilityQuery,
    ChannelIn,
    ChannelOut,
    ChannelPage,
    CheckIn,
    CheckOut,
    DrilldownOut,
    DrilldownQuery,
    MatrixOut,
    MatrixQuery,
    PageQuery,
    ProductAvailabilityOut,
    SummaryOut,
    SummaryQuery,
    channel_out,
    figure_out,
    paged,
    place_out,
)
from chalicelib.wiring import availability_service

warehouse_availability = Blueprint(__name__)

TAG = "Warehouse: availability and channels"
READ = [Permission.INVENTORY_READ]
WRITE = [Permission.INVENTORY_WRITE]
BASE = "/api/inventory"
ATP_RULE = (
    "ATP per channel = max(0, the channel's allocated share of available - its buffer), where available = on hand - "
    "reserved - held of the company's own (INTERN) stock at the location. Shares are `all` (the whole available "
    "quantity), `percent` (value % of it, rounded down to 6 places) or `fixed` (at most value). A product without an "
    "availability record at a location offers everything to every channel; a record gives nothing to a channel it "
    "does not name. Shares may overlap (two channels on `all` both see the whole quantity)."
)
PAGING = "Paged by `page` (from 1) and `limit` (default 50, at most 200)."

WEB = "0b7c1d2e-0000-4000-8000-000000000001"
MARKET = "0b7c1d2e-0000-4000-8000-000000000002"
PRODUCT = "5f0c4a52-1d3e-4c47-9b7d-2f8e6a1c0d11"
LOCATION = "9a3e2b10-7c44-4f1e-8d0a-61b2c3d4e5f6"
CHANNEL_EXAMPLE = {
    "id": WEB,
    "code": "WEB",
    "name": "Web shop",
    "version": 1,
    "createdAt": "2026-12-01T09:00:00.000000Z",
    "updatedAt": "2026-12-01T09:00:00.000000Z",
}
RECORD_EXAMPLE = {
    "productMasterId": PRODUCT,
    "productName": "Oak shelf",
    "sku": "OAK-SHELF",
    "locationId": LOCATION,
    "onHand": "120",
    "reserved": "10",
    "held": "10",
    "available": "100",
    "hasRecord": True,
    "channels": [
        {
            "channelId": WEB,
            "mode": "percent",
            "value": "60",
            "buffer": "5",
            "share": "60",
            "atp": "55",
            "allocated": True,
            "default": False,
        },
        {
            "channelId": MARKET,
            "mode": "fixed",
            "value": "30",
            "buffer": "0",
            "share": "30",
            "atp": "30",
            "allocated": True,
            "default": False,
        },
    ],
    "version": 1,
    "updatedAt": "2026-12-01T09:05:00.000000Z",
}


def _page(query: PageQuery, items: list[Any]) -> list[Any]:
    return items[(query.page - 1) * query.limit : query.page * query.limit]


@endpoint(
    warehouse_availability,
    f"{BASE}/channels",
    "GET",
    permissions=READ,
    summary="List sales channels",
    response=ChannelPage,
    tag=TAG,
    query=PageQuery,
    extension=True,
    description=f"Active channels, by code. {PAGING} Permission: inventory.read.",
    response_example={"data": [CHANNEL_EXAMPLE], "pagination": {"page": 1, "limit": 50, "total": 1, "totalPages": 1}},
)
def list_channels(call: Call) -> dict[str, Any]:
    query: PageQuery = call.query
    found = availability_service().channels(call.tenant_id)
    return paged([channel_out(c) for c in _page(query, found)], len(found), query)


@endpoint(
    warehouse_availability,
    f"{BASE}/channels",
    "POST",
    permissions=WRITE,
    summary="Create a sales channel",
    response=ChannelOut,
    tag=TAG,
    body=ChannelIn,
    status=201,
    extension=True,
    description=(
        "A channel that availability records allocate stock to. `code` is unique per company in any case "
        "(taken: 409). With an Idempotency-Key a retry answers the first response. Permission: inventory.write."
    ),
    example={"code": "WEB", "name": "Web shop"},
    response_example=CHANNEL_EXAMPLE,
)
def create_channel(call: Call) -> dict[str, Any]:
    body: ChannelIn = call.body
    channel = availability_service().create_channel(call.tenant_id, body.code, body.name, call.actor, call.command_id)
    return channel_out(channel)


@endpoint(
    warehouse_availability,
    f"{BASE}/availability",
    "GET",
    permissions=READ,
    summary="List availability records",
    response=AvailabilityPage,
    tag=TAG,
    looks_up=True,
    query=AvailabilityListQuery,
    description=(
        f"Availability records (one per product and location), by location then product, each with its computed "
        f"ATP per channel. Filters `locationId`, `productMasterId` (one that names nothing of the company: 404). "
        f"{PAGING} {ATP_RULE} Permission: inventory.read."
    ),
    response_example={"data": [RECORD_EXAMPLE], "pagination": {"page": 1, "limit": 50, "total": 1, "totalPages": 1}},
)
def list_availability(call: Call) -> dict[str, Any]:
    query: AvailabilityListQuery = call.query
    places, total = availability_service().allocation_page(
        call.tenant_id, query.page, query.limit, query.locationId, query.productMasterId
    )
    return paged([place_out(p) for p in places], total, query)


@endpoint(
    warehouse_availability,
    f"{BASE}/availability/check",
    "POST",
    permissions=READ,
    summary="Check availability",
    response=CheckOut,
    tag=TAG,
    body=CheckIn,
    description=(
        "Whether each line's quantity can be promised: the ATP of `channelId` when given, else the available "
        "quantity; at `locationId` when given, else summed over every location. Lines asking for the same product, "
        "location and channel draw on the same quantity in the order given. `available` is true when no line falls "
        f"short. 1 to 100 lines; an unknown product, location or channel is a 404 naming the line. {ATP_RULE} "
        "Permission: inventory.read."
    ),
    example={
        "lines": [
            {"productMasterId": PRODUCT, "quantity": "40", "channelId": WEB},
            {"productMasterId": PRODUCT, "quantity": "120", "locationId": LOCATION},
        ]
    },
    response_example={
        "available": False,
        "lines": [
            {"productMasterId": PRODUCT, "requested": "40", "available": "55", "shortfall": "0", "channelId": WEB},
            {
                "productMasterId": PRODUCT,
                "requested": "120",
                "available": "100",
                "shortfall": "20",
                "locationId": LOCATION,
            },
        ],
    },
)
def check_availability(call: Call) -> dict[str, Any]:
    body: CheckIn = call.body
    lines = [CheckLine(line.productMasterId, line.quantity, line.locationId, line.channelId) for line in body.lines]
    checked = availability_service().check(call.tenant_id, lines)
    out = []
    for line in checked:
        entry: dict[str, Any] = {
            "productMasterId": line.product_id,
            "requested": line.requested,
            "available": line.available,
            "shortfall": line.shortfall,
        }
        if line.location_id:
            entry["locationId"] = line.location_id
        if line.channel_id:
            entry["channelId"] = line.channel_id
        out.append(entry)
    return {"available": all(line.shortfall == 0 for line in checked), "lines": out}


@endpoint(
    warehouse_availability,
    f"{BASE}/availability/{{id}}",
    "GET",
    permissions=READ,
    summary="Get availability record",
    response=ProductAvailabilityOut,
    tag=TAG,
    query=AvailabilityQuery,
    description=(
        "The availability of product `{id}` at every location where it has stock or a record (or only at "
        f"`locationId`), with the ATP of each channel. {ATP_RULE} An unknown product is a 404. "
        "Permission: inventory.read."
    ),
    response_example={
        "productMasterId": PRODUCT,
        "productName": "Oak shelf",
        "sku": "OAK-SHELF",
        "locations": [RECORD_EXAMPLE],
    },
)
def get_availability(call: Call) -> dict[str, Any]:
    query: AvailabilityQuery = call.query
    product, places = availability_service().product_availability(call.tenant_id, call.path["id"], query.locationId)
    return {
        "productMasterId": product.product_id,
        "productName": product.name,
        "sku": product.sku,
        "locations": [place_out(p) for p in places],
    }


@endpoint(
    warehouse_availability,
    f"{BASE}/availability/{{id}}",
    "POST",
    permissions=WRITE,
    summary="Create availability record",
    response=AvailabilityOut,
    tag=TAG,
    body=AllocationIn,
    description=(
        "Sets the channel allocation of product `{id}` at `locationId` (creates the record or replaces its "
        "channels; the record's `version` moves on each write, and a write racing another is a 409). Each channel "
        "at most once; `percent` takes a value from 0 to 100, `fixed` a quantity >= 0, `all` no value; `buffer` >= 0. "
        f"An unknown product, location or channel is a 404. Answers the record with its ATP. {ATP_RULE} "
        "Permission: inventory.write."
    ),
    example={
        "locationId": LOCATION,
        "channels": [
            {"channelId": WEB, "mode": "percent", "value": "60", "buffer": "5"},
            {"channelId": MARKET, "mode": "fixed", "value": "30"},
        ],
    },
    response_example=RECORD_EXAMPLE,
)
def set_availability(call: Call) -> dict[str, Any]:
    body: AllocationIn = call.body
    rules = [ChannelRule(channel_id=r.channelId, mode=r.mode, value=r.value, buffer=r.buffer) for r in body.channels]
    place = availability_service().set_allocation(call.tenant_id, call.path["id"], body.locationId, rules, call.actor)
    return place_out(place)


@endpoint(
    warehouse_availability,
    f"{BASE}/channel-location",
    "GET",
    permissions=READ,
    summary="Get channel × location ATP matrix",  # noqa: RUF001 (the document's title)
    response=MatrixOut,
    tag=TAG,
    looks_up=True,
    query=MatrixQuery,
    description=(
        "Every product stocked at `locationId` (required) with its on-hand, available and ATP per channel "
        "(`channels`: comma-separated channel ids, default every active channel). `search` matches product name or "
        f"SKU (any case). Products by name. {PAGING} {ATP_RULE} Cost: one index Query of the location's stock, one "
        "BatchGetItem of its products, one Query of the channels and one BatchGetItem of the page's records "
        "(per 100 keys): never a call per product. Permission: inventory.read."
    ),
    response_example={
        "locationId": LOCATION,
        "locationName": "Main warehouse",
        "channels": [{"channelId": WEB, "code": "WEB", "name": "Web shop"}],
        "data": [
            {
                "productMasterId": PRODUCT,
                "productName": "Oak shelf",
                "sku": "OAK-SHELF",
                "onHand": "120",
                "available": "100",
                "channels": {WEB: "55"},
            }
        ],
        "pagination": {"page": 1, "limit": 50, "total": 1, "totalPages": 1},
    },
)
def channel_location(call: Call) -> dict[str, Any]:
    query: MatrixQuery = call.query
    matrix = availability_service().matrix(
        call.tenant_id, query.locationId, query.page, query.limit, query.search, query.channel_ids()
    )
    data = [
        {
            "productMasterId": row.product.product_id,
            "productName": row.product.name,
            "sku": row.product.sku,
            "onHand": row.figures.on_hand,
            "available": row.figures.available,
            "channels": row.channels,
        }
        for row in matrix.rows
    ]
    return {
        "locationId": matrix.location.location_id,
        "locationName": matrix.location.name,
        "channels": [{"channelId": c.channel_id, "code": c.code, "name": c.name} for c in matrix.channels],
        **paged(data, matrix.total, query),
    }


@endpoint(
    warehouse_availability,
    f"{BASE}/channel-location/drilldown",
    "GET",
    permissions=READ,
    summary="Drill down into channel-location ATP",
    response=DrilldownOut,
    tag=TAG,
    looks_up=True,
    query=DrilldownQuery,
    description=(
        "Everything behind a product's figures at a location: its stock records by bin and lot (with owner; only "
        "the company's own stock counts), the active holds and reservations on them, the availability record and "
        f"each channel's share and ATP. Both `locationId` and `productMasterId` are required. {ATP_RULE} "
        "Permission: inventory.read."
    ),
    response_example={
        "productMasterId": PRODUCT,
        "productName": "Oak shelf",
        "sku": "OAK-SHELF",
        "locationId": LOCATION,
        "locationName": "Main warehouse",
        "totals": {"onHand": "120", "reserved": "10", "held": "10", "available": "100"},
        "records": [
            {
                "id": "c1f0...",
                "binId": None,
                "lotId": None,
                "owner": "INTERN",
                "counted": True,
                "onHand": "120",
                "reserved": "10",
                "held": "10",
                "available": "100",
            }
        ],
        "holds": [{"id": "h1...", "stockId": "c1f0...", "quantity": "10", "reason": "damaged"}],
        "reservations": [{"id": "r1...", "stockId": "c1f0...", "quantity": "10", "reference": {}, "expiresAt": None}],
        "hasRecord": True,
        "channels": RECORD_EXAMPLE["channels"],
    },
)
def drilldown(call: Call) -> dict[str, Any]:
    query: DrilldownQuery = call.query
    found = availability_service().drilldown(call.tenant_id, query.locationId, query.productMasterId)
    place = found.place
    return {
        "productMasterId": found.product.product_id,
        "productName": found.product.name,
        "sku": found.product.sku,
        "locationId": found.location.location_id,
        "locationName": found.location.name,
        "totals": {
            "onHand": place.figures.on_hand,
            "reserved": place.figures.reserved,
            "held": place.figures.held,
            "available": place.figures.available,
        },
        "records": [
            {
                "id": r.stock_id,
                "binId": r.bin_id,
                "lotId": r.lot_id,
                "owner": r.owner,
                "counted": r.owner == "INTERN" and r.active,
                "onHand": r.on_hand,
                "reserved": r.reserved,
                "held": r.held,
                "available": r.available,
            }
            for r in found.records
        ],
        "holds": [
            {"id": h.hold_id, "stockId": h.stock_id, "quantity": h.quantity, "reason": h.reason} for h in found.holds
        ],
        "reservations": [
            {
                "id": r.reservation_id,
                "stockId": r.stock_id,
                "quantity": r.quantity,
                "reference": r.reference,
                "expiresAt": r.expires_at,
            }
            for r in found.reservations
        ],
        "hasRecord": place.allocation is not None,
        "channels": [figure_out(f, found.channels) for f in place.channels],
    }


@endpoint(
    warehouse_availability,
    f"{BASE}/channel/summary",
    "GET",
    permissions=READ,
    summary="Get channel inventory summary",
    response=SummaryOut,
    tag=TAG,
    looks_up=True,
    query=SummaryQuery,
    description=(
        "Per active channel: the ATP summed over every product and location (or only `locationId`), and how many "
        f"products have ATP above zero there (an unknown `locationId`: 404). {ATP_RULE} Cost: the company's stock "
        "records are read page by page "
        "(one Query per 1 MB; with `locationId`, that location's index Query), with one Query of the availability "
        "records and one of the channels. Permission: inventory.read."
    ),
    response_example={"data": [{"channelId": WEB, "code": "WEB", "name": "Web shop", "atp": "55", "productCount": 1}]},
)
def channel_summary(call: Call) -> dict[str, Any]:
    query: SummaryQuery = call.query
    totals = availability_service().summary(call.tenant_id, query.locationId)
    return {
        "data": [
            {
                "channelId": t.channel.channel_id,
                "code": t.channel.code,
                "name": t.channel.name,
                "atp": t.atp,
                "productCount": len(t.products),
            }
            for t in totals
        ]
    }
