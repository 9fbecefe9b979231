"""001 inventory analytics: `GET /api/inventory/analytics`. Translation only."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.core.tenancy.permissions import Permission
from chalicelib.features.analytics import Scope
from chalicelib.http.routing import Call, endpoint
from chalicelib.surfaces.warehouse.channel_models import AnalyticsOut, AnalyticsQuery, period
from chalicelib.wiring import analytics_service

warehouse_analytics = Blueprint(__name__)

PRODUCT = "5f0c4a52-1d3e-4c47-9b7d-2f8e6a1c0d11"


@endpoint(
    warehouse_analytics,
    "/api/inventory/analytics",
    "GET",
    permissions=[Permission.INVENTORY_READ],
    summary="Get inventory analytics",
    response=AnalyticsOut,
    tag="Warehouse: analytics",
    looks_up=True,
    query=AnalyticsQuery,
    description=(
        "Figures for the period `fromDate`..`toDate` (ISO dates or date-times, UTC; a date alone as `toDate` "
        "means the whole day; defaults: the 30 days up to now), optionally at `locationId` and for the products "
        "of `categoryId`, computed from the ledger's time index. `onHand` and `value` are as at the end of the "
        "period: on-hand is the sum of the ledger, value is FIFO over the stock blocks (with a location, the "
        "product's FIFO value per unit times its on-hand there). `received`: increases by initial stock, "
        "receipts, imports and production; `issued`: decreases by shipments, consumption and imports (transfers "
        "are neither); `adjustmentsByReason`: adjustments, counts, losses and corrections by reason code, and "
        "expired stock written off (a consumption with reason EXPIRED) under EXPIRED; "
        "`turnover`: issued / the average of opening and closing on-hand (null when that is 0); `stockouts`: "
        "how often a product's on-hand fell to zero or below in the period; `topMovers`: the 10 products with "
        "the most received + issued. `skuCount`: products with stock at the end. A `locationId` that is not one "
        "of the company's is a 404; bad or reversed dates are a 400 naming the field. Permission: inventory.read."
    ),
    response_example={
        "period": {"fromDate": "2026-11-01T00:00:00.000000Z", "toDate": "2026-11-30T23:59:59.999999Z"},
        "locationId": None,
        "categoryId": None,
        "onHand": "120",
        "value": "1470.00",
        "skuCount": 1,
        "received": "150",
        "issued": "25",
        "adjustmentsByReason": {"DAMAGED": {"count": 1, "increase": "0", "decrease": "5", "net": "-5"}},
        "turnover": "0.3704",
        "stockouts": 0,
        "topMovers": [
            {
                "productMasterId": PRODUCT,
                "productName": "Oak shelf",
                "sku": "OAK-SHELF",
                "received": "150",
                "issued": "25",
                "movements": 4,
            }
        ],
        "movements": 4,
    },
)
def analytics(call: Call) -> dict[str, Any]:
    query: AnalyticsQuery = call.query
    start, end = period(query)
    scope = Scope(start, end, query.locationId, query.categoryId)
    figures, products = analytics_service().analytics(call.tenant_id, scope)
    return {
        "period": {"fromDate": start, "toDate": end},
        "locationId": query.locationId,
        "categoryId": query.categoryId,
        "onHand": figures.on_hand,
        "value": figures.value,
        "skuCount": figures.sku_count,
        "received": figures.received,
        "issued": figures.issued,
        "adjustmentsByReason": {
            reason: {"count": f.count, "increase": f.increase, "decrease": f.decrease, "net": f.net}
            for reason, f in figures.adjustments.items()
        },
        "turnover": figures.turnover,
        "stockouts": figures.stockouts,
        "topMovers": [
            {
                "productMasterId": m.product_id,
                "productName": products[m.product_id].name if m.product_id in products else None,
                "sku": products[m.product_id].sku if m.product_id in products else None,
                "received": m.received,
                "issued": m.issued,
                "movements": m.movements,
            }
            for m in figures.top_movers
        ],
        "movements": figures.movements,
    }
