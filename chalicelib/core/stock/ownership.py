"""Whose stock a record holds: the one home of the rule that only the tenant's own stock is on hand.

A stock record's `owner` is `INTERN` for the tenant's own stock, or the name of
a supplier that holds stock for the tenant (004 supplier inventory). Supplier
stock is shown apart (004 `supplierQuantity`): it is never on hand for the
other surfaces (002 stock levels, 000 items, 001 availability), never drawn
from, and never reserved or held.
"""

from __future__ import annotations

from collections.abc import Iterable

from chalicelib.core.errors import InvalidState
from chalicelib.core.models import StockRecord

INTERN = "INTERN"


def is_own_stock(record: StockRecord) -> bool:
    """True for the tenant's own (INTERN) stock: what on hand, availability and reservations count."""
    return record.owner == INTERN


def own_stock(records: Iterable[StockRecord]) -> list[StockRecord]:
    """The active records of the tenant's own stock among `records`."""
    return [r for r in records if r.active and is_own_stock(r)]


def require_own_stock(record: StockRecord, what: str = "reserved") -> None:
    """A supplier's stock is not the tenant's to promise: 409 for a reservation or hold on it."""
    if not is_own_stock(record):
        raise InvalidState(
            f"stock held by supplier {record.owner} cannot be {what}",
            [{"field": "supplier", "message": f"supplier stock cannot be {what}"}],
        )
