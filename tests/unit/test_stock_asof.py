"""Stock as of a moment (core/stock/asof.py): snapshot + movements arithmetic, claims, reconciliation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.models import SYSTEM, ClaimStatus, Hold, Movement, MovementKind, Reservation, StockRecord
from chalicelib.core.stock.asof import (
    Claims,
    Figures,
    LedgerWindow,
    Snapshot,
    as_moment,
    claimed_at,
    figures_as_of,
    levels_as_of,
    on_hand_from,
    reconcile_record,
)

pytestmark = pytest.mark.disable_socket

T0 = datetime(2025, 1, 1, tzinfo=UTC)


class Ledger:
    """An in-memory LedgerHistory that counts the Queries a read makes and the calls it is asked in."""

    def __init__(self) -> None:
        self.moves: list[Movement] = []
        self.snapshots: list[Snapshot] = []
        self.reservations: list[Reservation] = []
        self.holds: list[Hold] = []
        self.queries = 0
        self.calls = 0

    def ledger_windows(self, tenant_id: str, stock_ids: Sequence[str], moment: datetime) -> dict[str, LedgerWindow]:
        # As storage reads it: one Query a record, backwards from the moment down to the latest snapshot.
        self.calls += 1
        found = {}
        for stock_id in stock_ids:
            self.queries += 1
            snaps = [s for s in self.snapshots if s.stock_id == stock_id and s.at <= moment]
            snapshot = max(snaps, key=lambda s: s.at) if snaps else None
            moves = [
                m
                for m in self.moves
                if m.stock_id == stock_id and m.occurred_at <= moment and (not snapshot or m.occurred_at > snapshot.at)
            ]
            found[stock_id] = LedgerWindow(snapshot, moves)
        return found

    def claims_of_records(self, tenant_id: str, stock_ids: Sequence[str]) -> dict[str, Claims]:
        self.calls += 1
        self.queries += len(stock_ids)
        return {
            s: Claims([r for r in self.reservations if r.stock_id == s], [h for h in self.holds if h.stock_id == s])
            for s in stock_ids
        }

    def move(self, quantity: int, at: datetime, stock_id: str = "s1") -> None:
        self.moves.append(
            Movement(
                tenant_id="t",
                stock_id=stock_id,
                product_id="p",
                location_id="l",
                kind=MovementKind.ADJUSTMENT,
                quantity=Decimal(quantity),
                actor=SYSTEM,
                occurred_at=at,
            )
        )


def record(stock_id: str = "s1", on_hand: int = 0, created: datetime = T0, location: str = "l") -> StockRecord:
    return StockRecord(
        tenant_id="t",
        stock_id=stock_id,
        product_id="p",
        location_id=location,
        on_hand=Decimal(on_hand),
        available=Decimal(on_hand),
        created_at=created,
        updated_at=created,
    )


def test_on_hand_is_the_snapshot_plus_the_movements_after_it_up_to_the_moment() -> None:
    snapshot = Snapshot("t", "s1", T0 + timedelta(days=1), Decimal(10), 3)
    ledger = Ledger()
    ledger.move(5, T0 + timedelta(hours=12))  # before the snapshot: already in it
    ledger.move(2, T0 + timedelta(days=1, hours=1))
    ledger.move(-4, T0 + timedelta(days=1, hours=5))
    assert on_hand_from(snapshot, ledger.moves, T0 + timedelta(days=1, hours=2)) == 12
    assert on_hand_from(snapshot, ledger.moves, T0 + timedelta(days=2)) == 8
    assert on_hand_from(None, ledger.moves, T0 + timedelta(days=1, hours=2)) == 7


def test_a_read_costs_one_query_per_record_however_old_the_moment_and_a_list_asks_once() -> None:
    ledger = Ledger()
    for day in range(365):
        for stock_id in ("s1", "s2", "s3"):
            ledger.move(1, T0 + timedelta(days=day, hours=1), stock_id)
            ledger.snapshots.append(
                Snapshot("t", stock_id, T0 + timedelta(days=day, hours=2), Decimal(day + 1), day + 1)
            )
    recs = [record(s, on_hand=365) for s in ("s1", "s2", "s3")]
    for moment in (T0 + timedelta(days=3, hours=5), T0 + timedelta(days=360, hours=1, minutes=30)):
        ledger.queries = ledger.calls = 0
        figures = figures_as_of(recs, moment, ledger)
        assert (ledger.queries, ledger.calls) == (3, 1)
        expected = sum(1 for m in ledger.moves if m.stock_id == "s1" and m.occurred_at <= moment)
        assert figures["s1"].on_hand == figures["s3"].on_hand == expected
        ledger.queries = ledger.calls = 0
        figures_as_of(recs, moment, ledger, with_claims=True)
        assert (ledger.queries, ledger.calls) == (6, 2)


def test_records_that_did_not_exist_then_are_left_out() -> None:
    ledger = Ledger()
    later = record("s2", created=T0 + timedelta(days=5))
    deleted = record("s3").model_copy(update={"active": False, "updated_at": T0 + timedelta(days=2)})
    found = figures_as_of([record(), later, deleted], T0 + timedelta(days=3), ledger)
    assert set(found) == {"s1"}
    found = figures_as_of([record(), later, deleted], T0 + timedelta(days=1), ledger)
    assert set(found) == {"s1", "s3"}


def claim(quantity: int, created: datetime, status: ClaimStatus, changed: datetime) -> Reservation:
    return Reservation(
        tenant_id="t",
        stock_id="s1",
        product_id="p",
        location_id="l",
        quantity=Decimal(quantity),
        status=status,
        created_at=created,
        updated_at=changed,
    )


def test_reserved_counts_claims_from_creation_until_they_stop_being_active() -> None:
    day = timedelta(days=1)
    claims = [
        claim(2, T0, ClaimStatus.ACTIVE, T0),
        claim(3, T0 + day, ClaimStatus.RELEASED, T0 + 3 * day),
        claim(5, T0 + 4 * day, ClaimStatus.FULFILLED, T0 + 5 * day),
    ]
    assert claimed_at(claims, T0 - day) == 0
    assert claimed_at(claims, T0 + 2 * day) == 5
    assert claimed_at(claims, T0 + 3 * day) == 2
    assert claimed_at(claims, T0 + 4 * day + timedelta(hours=1)) == 7
    assert claimed_at(claims, T0 + 6 * day) == 2
    ledger = Ledger()
    ledger.move(10, T0)
    ledger.reservations = claims
    figures = figures_as_of([record(on_hand=10)], T0 + 2 * day, ledger, with_claims=True)["s1"]
    assert (figures.on_hand, figures.reserved, figures.held, figures.available) == (10, 5, 0, 5)


def test_a_moment_in_the_future_is_refused_naming_asof() -> None:
    with pytest.raises(ValidationFailed) as raised:
        as_moment(datetime(2999, 1, 1))
    assert raised.value.details[0]["field"] == "asOf"
    assert as_moment(datetime(2020, 1, 1)).tzinfo is UTC


def test_levels_sum_the_records_per_location() -> None:
    records = [record("a", location="x"), record("b", location="x"), record("c", location="y")]
    figures = {"a": Figures(Decimal(1)), "b": Figures(Decimal(2)), "c": Figures(Decimal(4))}
    assert levels_as_of(figures, records) == {"x": 3, "y": 4}


def test_reconciliation_finds_a_difference_and_snapshots_up_to_the_cutoff() -> None:
    ledger = Ledger()
    ledger.move(10, T0)
    ledger.move(-3, T0 + timedelta(hours=2))
    ledger.move(1, T0 + timedelta(hours=5))  # after the cutoff: in the balance, not the snapshot
    cutoff = T0 + timedelta(hours=4)
    good = reconcile_record(record(on_hand=8), None, ledger.moves, cutoff)
    assert good.difference == 0
    assert (good.snapshot.at, good.snapshot.on_hand, good.snapshot.movements) == (cutoff, 7, 2)
    bad = reconcile_record(record(on_hand=9), None, ledger.moves, cutoff)
    assert bad.difference == 1
    # The next run starts from the snapshot.
    since = [m for m in ledger.moves if m.occurred_at > cutoff]
    later = reconcile_record(record(on_hand=8), good.snapshot, since, T0 + timedelta(hours=6))
    assert later.difference == 0 and later.snapshot.on_hand == 8 and later.snapshot.movements == 3


moves = st.lists(
    st.tuples(st.integers(min_value=-50, max_value=50).filter(bool), st.integers(min_value=1, max_value=600)),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(moves=moves, snapshot_every=st.integers(min_value=1, max_value=10))
def test_as_of_figures_at_every_step_equal_a_running_sum(moves: list[tuple[int, int]], snapshot_every: int) -> None:
    # Movements a few minutes apart; the schedule snapshots (correctly) after every n-th one.
    ledger = Ledger()
    at = T0
    running = []
    total = 0
    previous: Snapshot | None = None
    for index, (quantity, gap_minutes) in enumerate(moves):
        at += timedelta(minutes=gap_minutes)
        ledger.move(quantity, at)
        total += quantity
        running.append((at, total))
        if (index + 1) % snapshot_every == 0:
            since = [m for m in ledger.moves if previous is None or m.occurred_at > previous.at]
            made = reconcile_record(record(on_hand=total), previous, since, at + timedelta(seconds=30))
            assert made.difference == 0
            ledger.snapshots.append(made.snapshot)
            previous = made.snapshot
    rec = record(on_hand=total)
    for moment, expected in running:
        assert figures_as_of([rec], moment, ledger)["s1"].on_hand == expected
        just_before = moment - timedelta(microseconds=1)
        before = [t for m, t in running if m <= just_before]
        assert figures_as_of([rec], just_before, ledger)["s1"].on_hand == (before[-1] if before else 0)
