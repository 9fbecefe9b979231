"""Stock blocks: first in, first out, derived from the ledger.

Every stock increase of a product opens a block holding its quantity and the
unit price at the time; every decrease draws the oldest blocks first. The
blocks are never stored: they are computed from the movements of all of the
product's stock records, whichever surface wrote them, so a change made
anywhere is accounted for.

Rules of the derivation (docs/architecture.md, 2.4):
- movements are taken in ledger order (occurred_at, then movement id);
- transfers and splits move stock between records of the same product and
  change neither its quantity nor its value: they are skipped;
- a movement that `reverses` an increase takes its quantity out of that
  increase's block first; one that reverses a decrease puts the quantity back
  into the blocks that decrease drew, newest draw first. Whatever is left
  over is drawn or opened as usual;
- a decrease beyond every open block (negative stock) leaves a deficit that
  the next increases fill before they open a block;
- the resource's first movement, if it is an increase, is its initial stock
  (`initial` is True on that block).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from chalicelib.core.models import ZERO, Movement, MovementKind

NEUTRAL_KINDS = frozenset({MovementKind.TRANSFER_IN, MovementKind.TRANSFER_OUT, MovementKind.SPLIT})


@dataclass
class Block:
    movement_id: str
    stock_id: str
    location_id: str
    kind: MovementKind
    occurred_at: datetime
    quantity: Decimal
    remaining: Decimal
    unit_price: Decimal | None
    initial: bool

    @property
    def value(self) -> Decimal | None:
        return None if self.unit_price is None else self.remaining * self.unit_price


@dataclass
class Blocks:
    """Every block the ledger opened (closed ones have remaining 0), and any deficit."""

    all: list[Block] = field(default_factory=list)
    deficit: Decimal = ZERO

    @property
    def open(self) -> list[Block]:
        return [b for b in self.all if b.remaining > 0]

    @property
    def quantity(self) -> Decimal:
        """What the open blocks hold, less any deficit: the product's stock by the ledger."""
        return sum((b.remaining for b in self.all), ZERO) - self.deficit

    @property
    def value(self) -> Decimal:
        """FIFO value of the open blocks (a block without a price counts zero)."""
        return sum((b.value or ZERO for b in self.all), ZERO)

    def non_initial_open(self) -> list[Block]:
        return [b for b in self.open if not b.initial]


def ledger_order(movements: Iterable[Movement]) -> list[Movement]:
    return sorted(movements, key=lambda m: (m.occurred_at, m.movement_id))


def fifo_blocks(movements: Iterable[Movement], price_of: Callable[[Movement, bool], Decimal | None]) -> Blocks:
    """The blocks of one product from its movements (any order). `price_of(movement, initial)` prices a block."""
    result = Blocks()
    by_id: dict[str, Block] = {}
    draws: dict[str, list[tuple[Block, Decimal]]] = {}
    first = True
    for movement in ledger_order(movements):
        if movement.kind in NEUTRAL_KINDS or movement.quantity == 0:
            continue
        if movement.quantity > 0:
            left = movement.quantity
            if movement.reverses in draws:
                left = _give_back(draws[movement.reverses], left)
            left = _fill_deficit(result, left)
            if left > 0:
                block = Block(
                    movement_id=movement.movement_id,
                    stock_id=movement.stock_id,
                    location_id=movement.location_id,
                    kind=movement.kind,
                    occurred_at=movement.occurred_at,
                    quantity=left,
                    remaining=left,
                    unit_price=price_of(movement, first),
                    initial=first,
                )
                result.all.append(block)
                by_id[movement.movement_id] = block
        else:
            need = -movement.quantity
            taken: list[tuple[Block, Decimal]] = []
            reversed_block = by_id.get(movement.reverses or "")
            if reversed_block is not None:
                need = _take(reversed_block, need, taken)
            for block in result.all:
                if need == 0:
                    break
                need = _take(block, need, taken)
            result.deficit += need
            draws[movement.movement_id] = taken
        first = False
    return result


def _take(block: Block, need: Decimal, taken: list[tuple[Block, Decimal]]) -> Decimal:
    amount = min(block.remaining, need)
    if amount > 0:
        block.remaining -= amount
        taken.append((block, amount))
    return need - amount


def _give_back(taken: list[tuple[Block, Decimal]], quantity: Decimal) -> Decimal:
    while taken and quantity > 0:
        block, amount = taken.pop()
        back = min(amount, quantity)
        block.remaining += back
        quantity -= back
        if back < amount:
            taken.append((block, amount - back))
    return quantity


def _fill_deficit(blocks: Blocks, quantity: Decimal) -> Decimal:
    filled = min(blocks.deficit, quantity)
    blocks.deficit -= filled
    return quantity - filled
