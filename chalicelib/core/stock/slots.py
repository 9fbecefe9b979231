"""What every warehouse (001) operation shares: finding a product's records at a place, planning
increases and decreases on them (FEFO for lot-controlled products), and committing the writes of a
command in ONE unit of work with the lot or document that explains them.

`WarehouseBase` is the base of the mixins in adjustments.py, holds.py, expiry.py and views.py;
`core/stock/warehouse.WarehouseStock` puts them together. Every quantity change is a StockChange
(or a new record with its first movement) applied through the stock store; nothing here writes
DynamoDB or reads the environment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from chalicelib.core.catalog.service import CatalogService
from chalicelib.core.errors import InsufficientStock, NotFound, ValidationFailed
from chalicelib.core.ids import new_id, utcnow
from chalicelib.core.models import ZERO, Actor, Bin, Lot, Movement, MovementKind, Product, StockRecord
from chalicelib.core.ports import (
    StockChange,
    StockStore,
    StockWrite,
    Transactions,
    UnitOfWork,
    WarehouseStore,
)
from chalicelib.core.stock.levels import increase_write
from chalicelib.core.stock.lots import fefo, slot_id
from chalicelib.core.stock.movements import movement_of
from chalicelib.core.stock.service import StockService

# A command computed from a read (a count, a compare-and-set) is planned again this often when
# another writer got in between.
MAX_ATTEMPTS = 5


def field_error(name: str, message: str) -> list[dict[str, str]]:
    return [{"field": name, "message": message}]


@dataclass(frozen=True)
class Place:
    """Where a command acts: a product at a location, optionally a bin and a lot."""

    product_id: str
    location_id: str
    bin_id: str | None = None
    lot_id: str | None = None


class WarehouseBase:
    """Shared helpers of the 001 warehouse operations (see the module docstring)."""

    def __init__(
        self,
        stock: StockService,
        store: StockStore,
        warehouse: WarehouseStore,
        catalog: CatalogService,
        transactions: Transactions,
    ) -> None:
        self._stock = stock
        self._store = store
        self._warehouse = warehouse
        self._catalog = catalog
        self._transactions = transactions

    # -- reads -------------------------------------------------------------

    def product(self, tenant_id: str, product_id: str, field: str = "productMasterId") -> Product:
        """An active product of this company; another company's id is a 404 like a missing one."""
        product = self._catalog.get_products(tenant_id, [product_id]).get(product_id)
        if product is None or not product.active:
            raise NotFound(f"product {product_id} not found", field_error(field, "not found"))
        return product

    def location(self, tenant_id: str, location_id: str, field: str = "locationId") -> None:
        found = self._catalog.locations(tenant_id, [location_id]).get(location_id)
        if found is None or not found.active:
            raise NotFound(f"location {location_id} not found", field_error(field, "not found"))

    def bin(self, tenant_id: str, location_id: str, bin_id: str, field: str = "binId") -> Bin:
        found = self._catalog.get_bin(tenant_id, location_id, bin_id)
        if found is None or not found.active:
            raise NotFound(f"bin {bin_id} not found at location {location_id}", field_error(field, "not found"))
        return found

    def lots(self, tenant_id: str, lot_ids: Iterable[str]) -> dict[str, Lot]:
        wanted = [i for i in dict.fromkeys(lot_ids) if i]
        return self._warehouse.get_lots(tenant_id, wanted) if wanted else {}

    def lot(self, tenant_id: str, lot_id: str, product_id: str | None = None, field: str = "lotId") -> Lot:
        found = self.lots(tenant_id, [lot_id]).get(lot_id)
        if found is None or (product_id is not None and found.product_id != product_id):
            raise NotFound(f"lot {lot_id} not found", field_error(field, "not found for this product"))
        return found

    def check_place(self, tenant_id: str, place: Place) -> Product:
        """The place's product, and 404s naming the field for a location, bin or lot that is not this company's."""
        product = self.product(tenant_id, place.product_id)
        self.location(tenant_id, place.location_id)
        if place.bin_id is not None:
            self.bin(tenant_id, place.location_id, place.bin_id)
        if place.lot_id is not None:
            self.lot(tenant_id, place.lot_id, place.product_id)
        return product

    def records_of(self, tenant_id: str, product_ids: Iterable[str]) -> dict[str, list[StockRecord]]:
        """The active records of each product (one index Query per product, sent together)."""
        return self._stock.records_of(tenant_id, product_ids)

    def records_at_place(self, tenant_id: str, place: Place) -> list[StockRecord]:
        """The active records of the product at the location, narrowed to the bin and lot when named.
        Stock in transit to the location (a shipped transfer) is not there yet: never counted or drawn."""
        records = self._stock.records_at(tenant_id, place.product_id, place.location_id)
        return [
            r
            for r in records
            if r.in_transit is None
            and (place.bin_id is None or r.bin_id == place.bin_id)
            and (place.lot_id is None or r.lot_id == place.lot_id)
        ]

    def draw_order(
        self,
        tenant_id: str,
        product: Product,
        place: Place,
        records: list[StockRecord],
        lots: Mapping[str, Lot] | None = None,
    ) -> list[StockRecord]:
        """The order stock is taken from the records: FEFO for a lot-controlled product without a lot named,
        else the slot's own record first, then the oldest. `lots`: the records' lots when already read."""
        if product.lot_controlled and place.lot_id is None:
            if lots is None:
                lots = self.lots(tenant_id, [r.lot_id for r in records if r.lot_id])
            return fefo(records, lots, today())
        own = slot_id(tenant_id, place.product_id, place.location_id, place.bin_id, place.lot_id)
        return sorted(records, key=lambda r: (r.stock_id != own, r.created_at, r.stock_id))

    # -- planning ----------------------------------------------------------

    def plan_increase(
        self,
        tenant_id: str,
        product: Product,
        place: Place,
        records: list[StockRecord],
        quantity: Decimal,
        actor: Actor,
        *,
        kind: MovementKind,
        reason: str | None,
        reference: str | None,
        movement_id: str | None = None,
        guard: bool = False,
        unit_price: Decimal | None = None,
    ) -> StockWrite:
        """`quantity` onto the place's slot record (created with this movement when missing)."""
        own_id = slot_id(tenant_id, place.product_id, place.location_id, place.bin_id, place.lot_id)
        own = next((r for r in records if r.stock_id == own_id), None)
        movement = Movement(
            tenant_id=tenant_id,
            movement_id=movement_id or new_id(),
            stock_id=own_id,
            product_id=place.product_id,
            location_id=place.location_id,
            kind=kind,
            quantity=quantity,
            reason=reason,
            reference=reference,
            actor=actor,
            unit_price=unit_price if unit_price is not None else product.unit_price,
        )
        return increase_write(own, movement, product, guard=guard, bin_id=place.bin_id, lot_id=place.lot_id)

    def plan_arrivals(
        self,
        tenant_id: str,
        products: Mapping[str, Product],
        arrivals: Mapping[Place, Decimal],
        actor: Actor,
        *,
        reason: str,
        reference: str,
        movement_base: str,
        records_at: Callable[[Place], list[StockRecord]] | None = None,
    ) -> list[StockWrite]:
        """The arriving side of a move (transfer, stock request, put-away): one TRANSFER_IN increase per
        place, onto its slot record, movement ids `<movement_base>:in<n>` in the order of `arrivals`.
        `records_at` gives a place's records when the caller already read them (default: one read each)."""
        at = records_at or (lambda place: self.records_at_place(tenant_id, place))
        return [
            self.plan_increase(
                tenant_id,
                products[place.product_id],
                place,
                at(place),
                quantity,
                actor,
                kind=MovementKind.TRANSFER_IN,
                reason=reason,
                reference=reference,
                movement_id=f"{movement_base}:in{n}",
            )
            for n, (place, quantity) in enumerate(arrivals.items())
        ]

    def plan_decrease(
        self,
        tenant_id: str,
        ordered: list[StockRecord],
        quantity: Decimal,
        actor: Actor,
        *,
        kind: MovementKind,
        reason: str | None,
        reference: str | None,
        movement_id: str | None = None,
        guard: bool = False,
        field: str = "quantityChange",
    ) -> list[StockChange]:
        """Take `quantity` of available stock off `ordered`, in that order; each change guarded on what it
        takes (available >= taken), so a writer that got there first fails the command (409).

        Less available than `quantity` is a 409 insufficient_stock naming `field`.
        """
        available = sum((max(r.available, ZERO) for r in ordered), ZERO)
        if available < quantity:
            raise InsufficientStock(
                f"only {available} available, {quantity} needed",
                field_error(field, f"only {available} available"),
            )
        changes: list[StockChange] = []
        need = quantity
        for record in ordered:
            take = min(max(record.available, ZERO), need)
            if take <= 0:
                continue
            index = len(changes)
            own_id = (f"{movement_id}:{index}" if index else movement_id) if movement_id else None
            movement = movement_of(record, kind, -take, actor, reason, reference, own_id)
            changes.append(
                StockChange(
                    stock_id=record.stock_id,
                    actor=actor,
                    on_hand=-take,
                    expected_on_hand=record.on_hand if guard else None,
                    movement=movement,
                )
            )
            need -= take
            if need == 0:
                break
        return changes

    def add_writes(self, tenant_id: str, writes: list[StockWrite], actor: Actor, uow: UnitOfWork) -> None:
        self._stock.add_writes(tenant_id, writes, actor, uow)


def today() -> date:
    return utcnow().date()


def movements_of(writes: Iterable[StockWrite]) -> list[Movement]:
    found: list[Movement] = []
    for write in writes:
        movement = write.movement
        if movement is not None:
            found.append(movement)
    return found


def require_nonzero(value: Decimal, field: str) -> None:
    if value == 0:
        raise ValidationFailed(f"{field} must not be 0", field_error(field, "must not be 0"))
