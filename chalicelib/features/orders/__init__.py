"""Company orders (003): orders with nested line items, reserve and unreserve, CSV files.

What other features may use of orders: the order as the certificate pack reads it.
"""

from chalicelib.features.orders.model import LineItem, OrderView

__all__ = ["LineItem", "OrderView"]
