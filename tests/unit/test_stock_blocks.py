"""FIFO stock blocks derived from ledger movements. No AWS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core.models import Actor, Movement, MovementKind
from chalicelib.core.stock.blocks import fifo_blocks

pytestmark = pytest.mark.disable_socket
D = Decimal
ACTOR = Actor(id="t", name="Tester")
START = datetime(2026, 1, 1, tzinfo=UTC)
PRODUCT_PRICE = D("9")


class Ledger:
    """Movements one after another, a second apart."""

    def __init__(self) -> None:
        self.movements: list[Movement] = []

    def add(
        self,
        quantity: str,
        kind: MovementKind = MovementKind.RECEIPT,
        *,
        price: str | None = None,
        reverses: str | None = None,
        stock: str = "s1",
    ) -> str:
        movement = Movement(
            tenant_id="t",
            movement_id=f"m{len(self.movements):03d}",
            stock_id=stock,
            product_id="p",
            location_id="l",
            kind=kind,
            quantity=D(quantity),
            actor=ACTOR,
            occurred_at=START + timedelta(seconds=len(self.movements)),
            unit_price=D(price) if price else None,
            reverses=reverses,
        )
        self.movements.append(movement)
        return movement.movement_id


def price(movement: Movement, initial: bool) -> Decimal | None:
    return PRODUCT_PRICE if initial else movement.unit_price


def test_increases_open_blocks_and_decreases_draw_the_oldest_first() -> None:
    ledger = Ledger()
    ledger.add("10", MovementKind.INITIAL)
    ledger.add("5", price="2")
    ledger.add("-12", MovementKind.LOSS)

    blocks = fifo_blocks(reversed(ledger.movements), price)  # any order in, ledger order used

    assert [(b.quantity, b.remaining, b.initial) for b in blocks.all] == [(D(10), D(0), True), (D(5), D(3), False)]
    assert [b.movement_id for b in blocks.open] == ["m001"]
    assert blocks.quantity == D(3)
    assert blocks.value == D(6)  # 3 left of the block bought at 2


def test_the_initial_block_is_the_first_movement_whatever_its_kind() -> None:
    ledger = Ledger()
    ledger.add("4", MovementKind.RECEIPT, price="1")  # a first restock is the initial stock
    ledger.add("6", MovementKind.RECEIPT, price="2")

    blocks = fifo_blocks(ledger.movements, price)

    assert [b.initial for b in blocks.all] == [True, False]
    assert blocks.all[0].unit_price == PRODUCT_PRICE
    assert blocks.non_initial_open() == [blocks.all[1]]


def test_a_first_movement_that_decreases_marks_no_block_initial() -> None:
    ledger = Ledger()
    ledger.add("-2", MovementKind.LOSS)
    ledger.add("5", price="3")

    blocks = fifo_blocks(ledger.movements, price)

    # The deficit of 2 is filled first: the block opens with 3.
    assert [(b.quantity, b.initial) for b in blocks.all] == [(D(3), False)]
    assert blocks.deficit == 0
    assert blocks.quantity == D(3)


def test_transfers_and_splits_move_no_block() -> None:
    ledger = Ledger()
    ledger.add("10", MovementKind.INITIAL)
    ledger.add("-4", MovementKind.TRANSFER_OUT, stock="s1")
    ledger.add("4", MovementKind.TRANSFER_IN, stock="s2")
    ledger.add("-2", MovementKind.SPLIT, stock="s1")
    ledger.add("2", MovementKind.SPLIT, stock="s3")

    blocks = fifo_blocks(ledger.movements, price)

    assert [(b.quantity, b.remaining) for b in blocks.all] == [(D(10), D(10))]


def test_reversing_a_decrease_gives_back_into_the_blocks_it_drew() -> None:
    ledger = Ledger()
    ledger.add("3", MovementKind.INITIAL)
    ledger.add("5", price="2")
    used = ledger.add("-6", MovementKind.CONSUMPTION)  # all of block 1, 3 of block 2
    ledger.add("4", price="7")
    ledger.add("6", MovementKind.CORRECTION, reverses=used)

    blocks = fifo_blocks(ledger.movements, price)

    assert [(b.quantity, b.remaining) for b in blocks.all] == [(D(3), D(3)), (D(5), D(5)), (D(4), D(4))]
    assert blocks.value == 3 * PRODUCT_PRICE + 5 * 2 + 4 * 7


def test_reversing_an_increase_takes_from_its_own_block_first() -> None:
    ledger = Ledger()
    ledger.add("10", MovementKind.INITIAL)
    made = ledger.add("5", MovementKind.PRODUCTION, price="4")
    ledger.add("-5", MovementKind.CORRECTION, reverses=made)

    blocks = fifo_blocks(ledger.movements, price)

    assert [(b.quantity, b.remaining) for b in blocks.all] == [(D(10), D(10)), (D(5), D(0))]
    assert blocks.non_initial_open() == []


kinds = st.sampled_from(
    [MovementKind.RECEIPT, MovementKind.LOSS, MovementKind.PRODUCTION, MovementKind.CONSUMPTION, MovementKind.COUNT]
)


@given(st.lists(st.tuples(st.integers(min_value=-20, max_value=20), kinds), max_size=40))
def test_blocks_always_hold_what_the_ledger_says(steps: list[tuple[int, MovementKind]]) -> None:
    # Property: open blocks minus any deficit equal the sum of the (non-neutral) movements, whatever the order.
    ledger = Ledger()
    for quantity, kind in steps:
        if quantity:
            ledger.add(str(quantity), kind, price="1")
    blocks = fifo_blocks(ledger.movements, price)
    assert blocks.quantity == sum((m.quantity for m in ledger.movements), D(0))
    assert all(0 <= b.remaining <= b.quantity for b in blocks.all)
    assert blocks.deficit >= 0
