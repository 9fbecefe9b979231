"""Stock as of any moment, from the ledger: the one home of `figures_as_of`.

On hand at a moment is a record's latest snapshot at or before it plus the
ledger movements after the snapshot up to the moment. Snapshots are written
once a day per record by the reconciliation schedule (`snapshot_records`),
so a read costs two Queries per record (the snapshot, then one day's
movements at most, from the record's time-ordered ledger index) however old
the moment is. A moment before a record's first snapshot reads the record's
whole ledger partition (its movements until that first snapshot).

Reserved and held at a moment (`with_claims=True`) come from the record's
reservations and holds: a claim counts from its creation until its status
left `active` (its `updated_at`). A record is counted when it existed then
(created at or before the moment) and was not yet deleted (active, or its
last change, the delete, came later).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from chalicelib.core.errors import ValidationFailed, problem
from chalicelib.core.ids import utcnow
from chalicelib.core.models import ZERO, ClaimStatus, Hold, Movement, Reservation, StockRecord


@dataclass(frozen=True)
class Snapshot:
    """A record's ledger figures at `at`: on hand = the sum of its movements that occurred at or before it."""

    tenant_id: str
    stock_id: str
    at: datetime
    on_hand: Decimal
    movements: int  # how many movements the sum covers (for reconciliation reports)


@dataclass(frozen=True)
class Figures:
    on_hand: Decimal
    reserved: Decimal = ZERO
    held: Decimal = ZERO

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved - self.held


class LedgerHistory(Protocol):
    """What as-of reads need from storage (storage/stock_repo.DynamoStockStore)."""

    def snapshot_at(self, tenant_id: str, stock_id: str, moment: datetime) -> Snapshot | None: ...
    def movements_between(self, tenant_id: str, stock_id: str, after: datetime, until: datetime) -> list[Movement]: ...
    def movements(self, tenant_id: str, stock_id: str) -> Iterable[Movement]: ...
    def reservations_for_record(
        self, tenant_id: str, stock_id: str, active_only: bool = False
    ) -> list[Reservation]: ...
    def holds_for_record(self, tenant_id: str, stock_id: str) -> list[Hold]: ...


def as_moment(value: datetime, now: datetime | None = None, field: str = "asOf") -> datetime:
    """The moment as aware UTC (naive means UTC); ValidationFailed naming `field` when in the future."""
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    if moment > (now or utcnow()):
        raise ValidationFailed(f"{field} is in the future", [problem(field, "must not be in the future")])
    return moment


def existed_at(record: StockRecord, moment: datetime) -> bool:
    if record.created_at > moment:
        return False
    return record.active or record.updated_at > moment


def on_hand_from(snapshot: Snapshot | None, movements: Iterable[Movement], moment: datetime) -> Decimal:
    """Snapshot plus the movements after it up to the moment (movements outside that window are ignored)."""
    total = snapshot.on_hand if snapshot else ZERO
    start = snapshot.at if snapshot else None
    for movement in movements:
        if (start is None or movement.occurred_at > start) and movement.occurred_at <= moment:
            total += movement.quantity
    return total


def claimed_at(claims: Iterable[Reservation | Hold], moment: datetime) -> Decimal:
    """Quantity claimed at the moment: created by then, and still active then."""
    total = ZERO
    for claim in claims:
        if claim.created_at > moment:
            continue
        if claim.status == ClaimStatus.ACTIVE or claim.updated_at > moment:
            total += claim.quantity
    return total


def figures_as_of(
    records: Sequence[StockRecord], moment: datetime, ledger: LedgerHistory, *, with_claims: bool = False
) -> dict[str, Figures]:
    """Each record's figures at `moment` (records that did not exist then are left out).

    Two Queries per record (snapshot, movements since); with_claims adds the
    record's reservations and holds (two more).
    """
    found: dict[str, Figures] = {}
    for record in records:
        if not existed_at(record, moment):
            continue
        t, stock_id = record.tenant_id, record.stock_id
        snapshot = ledger.snapshot_at(t, stock_id, moment)
        if snapshot is None:
            movements: Iterable[Movement] = ledger.movements(t, stock_id)
        else:
            movements = ledger.movements_between(t, stock_id, snapshot.at, moment)
        on_hand = on_hand_from(snapshot, movements, moment)
        if not with_claims:
            found[stock_id] = Figures(on_hand)
            continue
        reserved = claimed_at(ledger.reservations_for_record(t, stock_id), moment)
        held = claimed_at(ledger.holds_for_record(t, stock_id), moment)
        found[stock_id] = Figures(on_hand, reserved, held)
    return found


def as_of_record(record: StockRecord, figures: Figures) -> StockRecord:
    """The record with its figures as they were (the rest is as it is now)."""
    return record.model_copy(
        update={
            "on_hand": figures.on_hand,
            "reserved": figures.reserved,
            "held": figures.held,
            "available": figures.available,
        }
    )


def records_as_of(records: Iterable[StockRecord], figures: Mapping[str, Figures]) -> list[StockRecord]:
    """The records that existed then (those in `figures`), each with its figures then and counted as
    active (one deleted since was not deleted yet), in the order given."""
    return [
        as_of_record(record, figures[record.stock_id]).model_copy(update={"active": True})
        for record in records
        if record.stock_id in figures
    ]


# -- snapshots and reconciliation ---------------------------------------------------------


@dataclass(frozen=True)
class Reconciled:
    snapshot: Snapshot
    # Stored on hand minus (snapshot + movements since): zero when the ledger and the balance agree.
    difference: Decimal


def reconcile_record(
    record: StockRecord,
    previous: Snapshot | None,
    since_previous: Sequence[Movement],
    cutoff: datetime,
) -> Reconciled:
    """The record's new snapshot at `cutoff`, and how far its stored balance is from its ledger.

    `since_previous` is every movement after the previous snapshot (all of
    the ledger when there is none), up to now: the stored balance includes
    them all; the new snapshot only those at or before the cutoff (a moment
    safely in the past, so no movement of that time can still be in flight).
    """
    ledger_now = on_hand_from(previous, since_previous, datetime.max.replace(tzinfo=UTC))
    at_cutoff = on_hand_from(previous, since_previous, cutoff)
    counted = (previous.movements if previous else 0) + sum(
        1 for m in since_previous if m.occurred_at <= cutoff and (previous is None or m.occurred_at > previous.at)
    )
    snapshot = Snapshot(record.tenant_id, record.stock_id, cutoff, at_cutoff, counted)
    return Reconciled(snapshot, record.on_hand - ledger_now)


def levels_as_of(figures: Mapping[str, Figures], records: Sequence[StockRecord]) -> dict[str, Decimal]:
    """On hand per location from the as-of figures of `records` (records absent then are not counted)."""
    by_location: dict[str, Decimal] = {}
    for record in records:
        if record.stock_id in figures:
            by_location[record.location_id] = (
                by_location.get(record.location_id, ZERO) + figures[record.stock_id].on_hand
            )
    return by_location
