"""ABC classification (001 cycle counts): products ranked by the value of what went out over a period.

A: the products that make the first 80% of the value; B: the next 15%; C: the rest (and every product
that moved nothing out). Each class has a count frequency in days.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from chalicelib.core.models import ZERO, Movement, MovementKind

A_SHARE = Decimal("0.80")
B_SHARE = Decimal("0.95")
FREQUENCY_DAYS = {"A": 30, "B": 90, "C": 365}
# Stock leaving the company's hands: shipped, consumed by production, moved out to another place.
OUTBOUND = frozenset({MovementKind.SHIPMENT, MovementKind.CONSUMPTION, MovementKind.TRANSFER_OUT})


def outbound_quantities(movements: Iterable[Movement], location_id: str | None = None) -> dict[str, Decimal]:
    """Units that went out per product (negative movements of the outbound kinds, at `location_id` when given)."""
    out: dict[str, Decimal] = {}
    for m in movements:
        if m.kind in OUTBOUND and m.quantity < 0 and (location_id is None or m.location_id == location_id):
            out[m.product_id] = out.get(m.product_id, ZERO) + (-m.quantity)
    return out


def classify(values: Mapping[str, Decimal]) -> dict[str, str]:
    """Class of each product by its share of the total value, highest value first (ties by id)."""
    total = sum((v for v in values.values() if v > 0), ZERO)
    classes: dict[str, str] = {}
    running = ZERO
    for product_id, value in sorted(values.items(), key=lambda kv: (-kv[1], kv[0])):
        if value <= 0 or total == 0:
            classes[product_id] = "C"
            continue
        before = running / total
        running += value
        classes[product_id] = "A" if before < A_SHARE else "B" if before < B_SHARE else "C"
    return classes
