"""`WarehouseStock`: the 001 warehouse operations over the stock ledger, in one service.

Built from mixins, one module per concern, all on `slots.WarehouseBase`:
`adjustments.Adjustments` (record stock, adjust, adjustment documents, counts,
lot corrections), `holds.Holds` (place, release, list, expire), `expiry.Expiry`
(expired lots, mark expired/consumed, destruction, the expiry job) and
`views.InventoryViews` (inventory rows, per location, per product),
`picking.Picking` (which stock to take without a record named: FEFO; reserving it). Lot
control and FEFO live in `lots.py`. Every quantity change goes through the
stock store as a StockChange, in the command's one unit of work.
"""

from __future__ import annotations

from chalicelib.core.stock.adjustments import Adjustments
from chalicelib.core.stock.expiry import Expiry
from chalicelib.core.stock.holds import Holds
from chalicelib.core.stock.picking import Picking
from chalicelib.core.stock.views import InventoryViews


class WarehouseStock(Adjustments, Holds, Expiry, Picking, InventoryViews):
    """The 001 warehouse stock service (see the module docstring)."""
