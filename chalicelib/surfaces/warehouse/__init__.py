"""The warehouse operations surface (001): `/api/inventory/...` and `/api/products/{id}/inventory-levels`,
with the document's permission per route. Translation only: the rules live in `core/stock/`
(`WarehouseStock`, `wiring.warehouse_stock()`)."""

from __future__ import annotations

from chalice import Blueprint

warehouse = Blueprint(__name__)

# Importing the route modules declares their routes on the blueprint.
from chalicelib.surfaces.warehouse import (  # noqa: E402, F401
    adjustments,
    bins,
    cycle_counts,
    expiry,
    holds,
    putaway,
    replenishment,
    stock,
    stock_requests,
    transfers,
)
