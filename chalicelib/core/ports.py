"""What the core needs from storage. The storage layer implements these with
DynamoDB; unit tests use the in-memory fakes in `tests/fakes.py`."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from chalicelib.core.models import (
    ZERO,
    Actor,
    ApiKey,
    Bin,
    ClaimStatus,
    Hold,
    Location,
    Lot,
    LotStatus,
    Movement,
    Product,
    Reservation,
    StockRecord,
    Tenant,
)
from chalicelib.core.reference.service import RefKey, Resolved
from chalicelib.core.stock.asof import Claims, LedgerWindow, Snapshot


@dataclass(frozen=True)
class ClaimTransition:
    """Move a reservation or hold from one status to another, guarded on the old one."""

    claim_id: str
    from_status: ClaimStatus
    to_status: ClaimStatus


@dataclass(frozen=True)
class HoldRelease:
    """Give back `quantity` of an active hold; `closes` when that is all it still holds (status released).

    Storage guards it on the hold being active and holding at least `quantity`.
    """

    hold_id: str
    quantity: Decimal
    closes: bool
    to_status: ClaimStatus = ClaimStatus.RELEASED


@dataclass(frozen=True)
class StockChange:
    """One atomic change to one stock record.

    The core decides the deltas and the guards; storage applies all the
    changes of one call in a single conditional write or transaction, or
    none of them.
    """

    stock_id: str
    actor: Actor
    on_hand: Decimal = ZERO
    reserved: Decimal = ZERO
    held: Decimal = ZERO
    # Refuse the change if it would leave available below zero...
    floor_available: bool = True
    # ...unless the record allows negative stock and this change may use that.
    negative_allowed: bool = False
    expected_on_hand: Decimal | None = None
    expected_version: int | None = None
    movement: Movement | None = None
    new_reservation: Reservation | None = None
    reservation_transition: ClaimTransition | None = None
    new_hold: Hold | None = None
    hold_transition: ClaimTransition | None = None
    # Partial (or whole) releases of holds on this record, by quantity (001 holds/release, expiry).
    hold_releases: tuple[HoldRelease, ...] = ()
    # Further reservations whose status moves in the same write (releasing several at once).
    reservation_transitions: tuple[ClaimTransition, ...] = ()
    # Record fields set or removed in the same write ("attributes.x" names one
    # attribute). Changing product_id or location_id needs both: storage
    # re-keys the record's indexes from them.
    set_fields: Mapping[str, Any] = field(default_factory=dict)
    remove_fields: tuple[str, ...] = ()
    # The product the record leaves when set_fields moves it to another one: storage takes the record
    # out of that product's stock keys in the same write (None: it stays where it was).
    moved_from_product: str | None = None

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved - self.held

    @property
    def all_reservation_transitions(self) -> tuple[ClaimTransition, ...]:
        single = (self.reservation_transition,) if self.reservation_transition is not None else ()
        return single + self.reservation_transitions

    @property
    def needs_active_record(self) -> bool:
        """Whether the record must be active (not deleted) for this change to apply.

        Every change needs a live record except one that sets `active` itself
        and one that only gives stock back (releases, lowering reserved or
        held, nothing else), which is always safe.
        """
        if "active" in self.set_fields:
            return False
        gives_back_only = (
            self.on_hand == 0
            and self.reserved <= 0
            and self.held <= 0
            and self.new_reservation is None
            and self.new_hold is None
            and self.movement is None
            and not self.set_fields
        )
        return not gives_back_only


T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: list[T]
    # Opaque storage cursor for the next page; None on the last page.
    cursor: dict[str, object] | None = None
    extra: dict[str, object] = field(default_factory=dict)


@dataclass
class OffsetPage(Generic[T]):
    """A page by offset and limit, with the true number of items of the whole list."""

    items: list[T]
    total: int


@dataclass(frozen=True)
class NewRecordWrite:
    """A stock record created, with its first movement, inside someone else's transaction."""

    record: StockRecord
    movement: Movement | None


# One planned stock write: a change to an existing record or a new record.
StockWrite = StockChange | NewRecordWrite


class UnitOfWork(Protocol):
    """Writes of one or more stores that commit together, in ONE transaction, or not at all.

    A store method given a unit of work adds its writes to it instead of
    committing them; the caller commits once. A failed commit raises the
    domain error that explains it (409, 404, ...), whichever store's write
    failed. Storage's implementation is `storage/transaction.Transaction`.
    """

    def commit(self) -> None: ...


class Transactions(Protocol):
    """Opens units of work. `command_id` (the request's Idempotency-Key command) makes a retry of the
    same command's transaction apply once."""

    def begin(self, command_id: str | None = None) -> UnitOfWork: ...


class StockStore(Protocol):
    def create_record(self, record: StockRecord, movement: Movement | None, actor: Actor) -> None: ...
    def create_records(
        self, pairs: list[tuple[StockRecord, Movement | None]], actor: Actor, uow: UnitOfWork | None = None
    ) -> None: ...
    def get_record(self, tenant_id: str, stock_id: str) -> StockRecord | None: ...
    def get_records(self, tenant_id: str, stock_ids: Iterable[str]) -> dict[str, StockRecord]: ...
    def find_by_natural_key(self, tenant_id: str, natural_key: str) -> StockRecord | None: ...
    def apply(self, tenant_id: str, changes: list[StockChange], uow: UnitOfWork | None = None) -> None: ...
    def get_movement(self, tenant_id: str, stock_id: str, movement_id: str) -> Movement | None: ...
    def movements(self, tenant_id: str, stock_id: str) -> Iterator[Movement]: ...
    # The ledger in time (core/stock/asof.py): each record's latest snapshot at a moment and its movements
    # since (one Query a record, run concurrently); each record's reservations and holds (one Query a record).
    def ledger_windows(self, tenant_id: str, stock_ids: Sequence[str], moment: datetime) -> dict[str, LedgerWindow]: ...
    def claims_of_records(self, tenant_id: str, stock_ids: Sequence[str]) -> dict[str, Claims]: ...
    def put_snapshots(self, snapshots: Iterable[Snapshot]) -> None: ...
    def get_reservation(self, tenant_id: str, reservation_id: str) -> Reservation | None: ...
    def get_reservations(self, tenant_id: str, reservation_ids: Iterable[str]) -> dict[str, Reservation]: ...
    def get_hold(self, tenant_id: str, hold_id: str) -> Hold | None: ...
    def reservations_for_record(
        self, tenant_id: str, stock_id: str, active_only: bool = False
    ) -> list[Reservation]: ...
    def holds_for_record(self, tenant_id: str, stock_id: str) -> list[Hold]: ...
    def expiring_reservations(self, tenant_id: str, before: datetime) -> Iterator[Reservation]: ...
    def records_for_product(self, tenant_id: str, product_id: str) -> list[StockRecord]: ...
    def records_for_products(self, tenant_id: str, product_ids: Iterable[str]) -> dict[str, list[StockRecord]]: ...
    def records_at_location(self, tenant_id: str, location_id: str) -> list[StockRecord]: ...
    def list_records(self, tenant_id: str, limit: int, cursor: dict[str, object] | None) -> Page[StockRecord]: ...
    def set_allow_negative(self, tenant_id: str, stock_id: str, allowed: bool, actor: Actor) -> None: ...
    def split(
        self,
        tenant_id: str,
        source: StockChange,
        record: StockRecord,
        movement: Movement,
        reservation: Reservation,
        actor: Actor,
        uow: UnitOfWork | None = None,
    ) -> None: ...
    def reservations_for_order(self, tenant_id: str, order_id: str, active_only: bool = False) -> list[Reservation]: ...


class CatalogStore(Protocol):
    def create_product(self, product: Product, actor: Actor) -> None: ...
    def create_products(self, products: list[Product], actor: Actor, uow: UnitOfWork | None = None) -> None: ...
    def update_product(self, product: Product, previous: Product, actor: Actor) -> None: ...
    def get_product(self, tenant_id: str, product_id: str) -> Product | None: ...
    def get_products(self, tenant_id: str, product_ids: Iterable[str]) -> dict[str, Product]: ...
    def product_id_by_sku(self, tenant_id: str, sku: str) -> str | None: ...
    def product_id_by_source(self, tenant_id: str, source: str, source_id: str) -> str | None: ...
    def product_id_by_number(self, tenant_id: str, number: int) -> str | None: ...
    def location_id_by_number(self, tenant_id: str, number: int) -> str | None: ...
    def list_products(self, tenant_id: str, limit: int, cursor: dict[str, object] | None) -> Page[Product]: ...
    def page_products(self, tenant_id: str, kind: str, offset: int, limit: int) -> OffsetPage[Product]: ...
    def create_product_with_stock(
        self, product: Product, record: StockRecord, movement: Movement | None, actor: Actor
    ) -> None: ...
    def create_location(self, location: Location, actor: Actor) -> None: ...
    def update_location(self, location: Location, previous: Location, actor: Actor) -> None: ...
    def write_locations(
        self,
        creates: list[Location],
        updates: list[tuple[Location, Location]],
        actor: Actor,
        uow: UnitOfWork | None = None,
    ) -> None:
        """Create `creates` and apply `updates` ((new, previous) pairs) in ONE transaction, with their name
        guards (added to `uow` when given, else committed alone). A taken name is AlreadyExists at
        `At("name", i)`, a taken id AlreadyExists at `At("id", i)`, a moved version StaleVersion at
        `At("version", i)`, i being the entry's position in its list."""

    def get_location(self, tenant_id: str, location_id: str) -> Location | None: ...
    def get_locations(self, tenant_id: str, location_ids: Iterable[str]) -> dict[str, Location]: ...
    def location_id_by_name(self, tenant_id: str, name: str) -> str | None: ...
    def location_ids_by_name(self, tenant_id: str, names: Iterable[str]) -> dict[str, str]:
        """The holders of the names that are taken, by casefolded name (one batched read)."""

    def list_locations(
        self, tenant_id: str, limit: int, cursor: dict[str, object] | None, active_only: bool = False
    ) -> Page[Location]: ...
    def page_locations(self, tenant_id: str, offset: int, limit: int) -> OffsetPage[Location]: ...
    def create_bin(self, bin_: Bin, actor: Actor) -> None: ...
    def list_bins(self, tenant_id: str, location_id: str) -> list[Bin]: ...
    def get_bin(self, tenant_id: str, location_id: str, bin_id: str) -> Bin | None: ...
    def list_all_bins(self, tenant_id: str) -> list[Bin]:
        """Every bin of the company, by location (one Query of the bins partition)."""


class WarehouseStore(Protocol):
    """Lots, adjustment documents and hold listings (001). Stock quantities stay the StockStore's.

    Writes join a unit of work, so a lot or an adjustment document commits with
    the stock changes it explains.
    """

    def get_lots(self, tenant_id: str, lot_ids: Iterable[str]) -> dict[str, Lot]: ...
    def add_new_lot(self, lot: Lot, actor: Actor, uow: UnitOfWork) -> None:
        """Create `lot` (AlreadyExists when its id, derived from product + lot number, is taken)."""

    def add_lot_status(self, lot: Lot, status: LotStatus, actor: Actor, uow: UnitOfWork) -> None:
        """Move `lot` to `status`, guarded on the version read; a lot leaves the expiry index once not active."""

    def lots_expiring_before(self, tenant_id: str, day: date) -> list[Lot]:
        """Active lots whose expiry date is before `day` (a Query on the expiry index, never a Scan)."""

    def lots_with_status(self, tenant_id: str, status: LotStatus) -> list[Lot]: ...
    def add_adjustment(self, document: Any, actor: Actor, uow: UnitOfWork) -> None:
        """An adjustment document (core/stock/adjustments.Adjustment), written with its stock changes."""

    def get_adjustment(self, tenant_id: str, adjustment_id: str) -> Any | None: ...
    def list_adjustments(self, tenant_id: str, kind: str) -> list[Any]:
        """Adjustment documents of `kind` (adjustment, count, lot_correction), newest first."""

    def list_holds(self, tenant_id: str) -> list[Hold]: ...
    def expiring_holds(self, tenant_id: str, before: datetime) -> list[Hold]:
        """Active holds whose expiresAt is before `before` (a Query on the hold expiry index)."""


class TenantStore(Protocol):
    def create_tenant(self, tenant: Tenant, key: ApiKey, actor: Actor, default_location: Location) -> None:
        """The tenant, its first key and its default location (with its name guard) in ONE transaction."""

    def get_tenant(self, tenant_id: str) -> Tenant | None: ...
    def list_tenant_ids(self) -> Iterator[str]: ...
    def put_key(self, key: ApiKey, actor: Actor) -> None: ...
    def get_key(self, tenant_id: str, key_id: str) -> ApiKey | None: ...
    def list_keys(self, tenant_id: str) -> list[ApiKey]: ...
    def revoke_key(self, tenant_id: str, key_id: str, actor: Actor) -> ApiKey: ...


@dataclass(frozen=True)
class Wanted:
    """What a command needs to read before it writes, of any kind: read in one round trip."""

    records: Collection[str] = ()  # stock record ids: read whole
    products: Collection[str] = ()  # product ids: whether each exists
    references: Collection[RefKey] = ()  # reference items, locations and heat codes (ReferenceService.resolve)


@dataclass
class Found:
    """What a `BatchReads.read` found: missing ids are simply absent."""

    records: dict[str, StockRecord] = field(default_factory=dict)
    products: set[str] = field(default_factory=set)  # the wanted product ids that exist
    references: dict[RefKey, Resolved] = field(default_factory=dict)


class BatchReads(Protocol):
    def read(self, tenant_id: str, wanted: Wanted) -> Found:
        """Everything `wanted` names, in one batched read (one BatchGetItem per 100 keys), consistent."""
