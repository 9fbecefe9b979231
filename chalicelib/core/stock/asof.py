"""Stock as of any moment, from the ledger: the one home of `figures_as_of`.

On hand at a moment is a record's latest snapshot at or before it plus the
ledger movements after the snapshot up to the moment. Snapshots are written
once a day per record by the reconciliation schedule (`snapshot_records`)
into the record's time-ordered ledger index itself, sorted after every
movement of their moment, so ONE Query reading that index backwards from the
moment returns the movements since the snapshot and then the snapshot (at
most a day of movements, however old the moment is): `LedgerWindow`. A
moment before a record's first snapshot reads the record's ledger up to the
moment, page by page.

Reserved and held at a moment (`with_claims=True`) come from the record's
reservations and holds, both in one Query of the record's claims index: a
claim counts from its creation until its status left `active` (its
`updated_at`). A record is counted when it existed then (created at or
before the moment) and was not yet deleted (active, or its last change, the
delete, came later).

A list asks for the windows (and claims) of all its records at once; storage
runs those Queries concurrently (a bounded pool), so a page of records costs
a bounded number of sequential round trips.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class LedgerWindow:
    """A record's latest snapshot at or before a moment (None: none yet) and its movements after the
    snapshot (all of them without one) up to the moment."""

    snapshot: Snapshot | None
    movements: list[Movement]


@dataclass(frozen=True)
class Claims:
    """A record's reservations and holds, of any status."""

    reservations: list[Reservation] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)


class LedgerHistory(Protocol):
    """What as-of reads need from storage (storage/stock_repo.DynamoStockStore)."""

    def ledger_windows(self, tenant_id: str, stock_ids: Sequence[str], moment: datetime) -> dict[str, LedgerWindow]: ...
    def claims_of_records(self, tenant_id: str, stock_ids: Sequence[str]) -> dict[str, Claims]: ...


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

    One Query per record (its ledger window); with_claims adds one more (its reservations and holds).
    The records of a tenant are asked for together, so storage can run their Queries concurrently.
    """
    by_tenant: dict[str, list[str]] = {}
    for record in records:
        if existed_at(record, moment):
            by_tenant.setdefault(record.tenant_id, []).append(record.stock_id)
    found: dict[str, Figures] = {}
    for tenant_id, stock_ids in by_tenant.items():
        windows = ledger.ledger_windows(tenant_id, stock_ids, moment)
        claims = ledger.claims_of_records(tenant_id, stock_ids) if with_claims else {}
        for stock_id in stock_ids:
            window = windows.get(stock_id) or LedgerWindow(None, [])
            on_hand = on_hand_from(window.snapshot, window.movements, moment)
            if not with_claims:
                found[stock_id] = Figures(on_hand)
                continue
            held = claims.get(stock_id) or Claims()
            found[stock_id] = Figures(on_hand, claimed_at(held.reservations, moment), claimed_at(held.holds, moment))
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
