"""Which bin to put stock away to (no storage): a bin that already holds the product and lot, else the
emptiest storage bin with room for it."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from chalicelib.core.models import ZERO, Bin, BinType, StockRecord


def suggest_bin(
    bins: Iterable[Bin],
    records: Iterable[StockRecord],
    product_id: str,
    lot_id: str | None,
    quantity: Decimal,
    exclude: str | None = None,
) -> Bin | None:
    """`records`: the location's stock. A bin (not `exclude`) holding the same product and lot with room
    comes first (the one holding most); else the storage bin with the lowest fill (on hand / capacity;
    a bin without capacity has room and counts as its on hand over nothing, i.e. empty first)."""
    candidates = [b for b in bins if b.active and b.bin_id != exclude]
    held: dict[str, Decimal] = {}
    same: dict[str, Decimal] = {}
    for r in records:
        if r.bin_id is None or r.in_transit is not None:
            continue
        held[r.bin_id] = held.get(r.bin_id, ZERO) + r.on_hand
        if r.product_id == product_id and r.lot_id == lot_id and r.on_hand > 0:
            same[r.bin_id] = same.get(r.bin_id, ZERO) + r.on_hand

    def room(b: Bin) -> bool:
        return b.capacity is None or b.capacity - held.get(b.bin_id, ZERO) >= quantity

    holding = [b for b in candidates if b.bin_id in same and b.type != BinType.DESTRUCTION and room(b)]
    if holding:
        return max(holding, key=lambda b: (same[b.bin_id], b.code))
    storage = [b for b in candidates if b.type == BinType.STORAGE and room(b)]
    if not storage:
        return None

    def fill(b: Bin) -> tuple[Decimal, Decimal, str]:
        on_hand = held.get(b.bin_id, ZERO)
        ratio = on_hand / b.capacity if b.capacity else (ZERO if on_hand == 0 else Decimal(1))
        return ratio, on_hand, b.code

    return min(storage, key=fill)
