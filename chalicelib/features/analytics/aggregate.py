"""Analytics from ledger lines. No storage: movements and products in, figures out.

- onHand: the sum of the scope's movements up to the end of the period (the
  ledger invariant: a record's on-hand is the sum of its movements), so it is
  the figure as at `toDate`;
- value: FIFO (`core/stock/blocks.py`) over each product's movements up to the
  end; with a location, the product's FIFO value per unit times its on-hand
  there (blocks follow the product, not the place: transfers are neutral);
- received: increases by initial, receipt, import and production movements in
  the period; issued: decreases by shipment, consumption and import;
  transfers and splits are neither;
- adjustmentsByReason: adjustment, count, loss and correction movements of the
  period by reason (the kind when there is none), and write-offs: a
  consumption with reason EXPIRED (expired stock marked consumed) is not an
  issue but an adjustment under EXPIRED;
- turnover: issued / the average of on-hand at the start and at the end;
- stockouts: how many times a product's on-hand (at the location, if one is
  given) fell from above zero to zero or below during the period;
- topMovers: the 10 products with the most received + issued.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from chalicelib.core.models import ZERO, Movement, MovementKind, Product
from chalicelib.core.stock.blocks import fifo_blocks

RECEIVED = frozenset({MovementKind.INITIAL, MovementKind.RECEIPT, MovementKind.IMPORT, MovementKind.PRODUCTION})
ISSUED = frozenset({MovementKind.SHIPMENT, MovementKind.CONSUMPTION, MovementKind.IMPORT})
ADJUSTMENTS = frozenset({MovementKind.ADJUSTMENT, MovementKind.COUNT, MovementKind.LOSS, MovementKind.CORRECTION})
# Reasons that make a consumption a write-off (reported with the adjustments), not an issue.
WRITE_OFF_REASONS = frozenset({"EXPIRED"})
TOP_MOVERS = 10
RATIO = Decimal("0.0001")


def category_of(product: Product) -> str | None:
    """The product's category: the one place that knows where it is kept."""
    value = getattr(product, "category_id", None) or product.attributes.get("category_id")
    return str(value) if value is not None else None


@dataclass(frozen=True)
class Scope:
    start: datetime
    end: datetime
    location_id: str | None = None
    category_id: str | None = None


@dataclass
class ReasonFigures:
    count: int = 0
    increase: Decimal = ZERO
    decrease: Decimal = ZERO

    @property
    def net(self) -> Decimal:
        return self.increase - self.decrease


@dataclass
class Mover:
    product_id: str
    received: Decimal = ZERO
    issued: Decimal = ZERO
    movements: int = 0

    @property
    def moved(self) -> Decimal:
        return self.received + self.issued


@dataclass
class Analytics:
    on_hand: Decimal = ZERO
    value: Decimal = ZERO
    sku_count: int = 0
    received: Decimal = ZERO
    issued: Decimal = ZERO
    adjustments: dict[str, ReasonFigures] = field(default_factory=dict)
    turnover: Decimal | None = None
    stockouts: int = 0
    top_movers: list[Mover] = field(default_factory=list)
    opening_on_hand: Decimal = ZERO
    movements: int = 0


def analyse(
    movements: Iterable[Movement],
    products: dict[str, Product],
    scope: Scope,
    price_of: Callable[[Movement, bool], Decimal | None] | None = None,
) -> Analytics:
    """Figures of `scope` from every movement up to its end (any order; later ones are ignored)."""
    result = Analytics()
    by_product: dict[str, list[Movement]] = defaultdict(list)
    for movement in movements:
        if movement.occurred_at <= scope.end and _in_category(products.get(movement.product_id), scope):
            by_product[movement.product_id].append(movement)
    movers: dict[str, Mover] = {}
    adjustments: dict[str, ReasonFigures] = defaultdict(ReasonFigures)
    for product_id, product_movements in by_product.items():
        product_movements.sort(key=lambda m: (m.occurred_at, m.movement_id))
        here = [m for m in product_movements if scope.location_id is None or m.location_id == scope.location_id]
        balance = ZERO
        for movement in here:
            before = balance
            balance += movement.quantity
            if movement.occurred_at < scope.start:
                continue
            result.movements += 1
            if before > 0 and balance <= 0:
                result.stockouts += 1
            _count(movement, result, movers, adjustments)
        opening = sum((m.quantity for m in here if m.occurred_at < scope.start), ZERO)
        result.opening_on_hand += opening
        result.on_hand += balance
        if balance > 0:
            result.sku_count += 1
        result.value += _value(product_movements, products.get(product_id), balance, scope, price_of)
    result.adjustments = dict(sorted(adjustments.items()))
    average = (result.opening_on_hand + result.on_hand) / 2
    if average > 0:
        result.turnover = (result.issued / average).quantize(RATIO, rounding=ROUND_HALF_EVEN)
    ranked = sorted(movers.values(), key=lambda m: (-m.moved, m.product_id))
    result.top_movers = [m for m in ranked if m.moved > 0][:TOP_MOVERS]
    return result


def _in_category(product: Product | None, scope: Scope) -> bool:
    if scope.category_id is None:
        return True
    return product is not None and category_of(product) == scope.category_id


def _count(
    movement: Movement, result: Analytics, movers: dict[str, Mover], adjustments: dict[str, ReasonFigures]
) -> None:
    quantity = movement.quantity
    mover = movers.setdefault(movement.product_id, Mover(movement.product_id))
    mover.movements += 1
    if movement.kind in RECEIVED and quantity > 0:
        result.received += quantity
        mover.received += quantity
    elif movement.kind in ISSUED and quantity < 0 and movement.reason not in WRITE_OFF_REASONS:
        result.issued -= quantity
        mover.issued -= quantity
    elif movement.kind in ADJUSTMENTS or movement.reason in WRITE_OFF_REASONS:
        figures = adjustments[movement.reason or movement.kind.value.upper()]
        figures.count += 1
        if quantity > 0:
            figures.increase += quantity
        else:
            figures.decrease -= quantity


def _value(
    movements: list[Movement],
    product: Product | None,
    on_hand_here: Decimal,
    scope: Scope,
    price_of: Callable[[Movement, bool], Decimal | None] | None,
) -> Decimal:
    def default_price(movement: Movement, initial: bool) -> Decimal | None:
        if movement.unit_price is not None and not initial:
            return movement.unit_price
        return product.unit_price if product is not None else None

    blocks = fifo_blocks(movements, price_of or default_price)
    if scope.location_id is None:
        return blocks.value
    quantity = blocks.quantity
    if quantity <= 0 or on_hand_here <= 0:
        return ZERO
    return (blocks.value * on_hand_here / quantity).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
