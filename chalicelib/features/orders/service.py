"""The 003 order: a customer's demand, with line items that stock is reserved against.

Mapping (docs/architecture.md 2.2): orderId = order_id, companyId =
tenant_id, orderReference = order_reference, relatedOrganisationId =
related_organisation_id; customerName is not stored, it is the label of the
related organisation, resolved with one batched read per page or call.

Rules the service keeps:
- orderReference is unique (any case) among a tenant's active orders: a
  guard item is taken, moved and freed in the same transaction as the order;
- an order with active line items has quantity = the sum of their
  quantities (any client value is ignored); an order without lines keeps
  the quantity the client gave;
- every write of a request is ONE transaction (at most 100 writes), validated
  in full first, and guarded on the versions that were read;
- reservations for a line carry reference {orderId, orderReference,
  lineItemId}, so the 000 inventory item shows them in linkedOrders.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from pydantic import Field, field_serializer

from chalicelib.core.errors import (
    AlreadyExists,
    At,
    DomainError,
    ExpectationFailed,
    InsufficientStock,
    NotFound,
    Problem,
    StaleVersion,
    ValidationFailed,
)
from chalicelib.core.history.service import HistoryService, documented_change_type
from chalicelib.core.ids import new_id, utcnow
from chalicelib.core.limits import TRANSACTION_ITEMS
from chalicelib.core.models import ZERO, Actor, ClaimStatus, Entity, FieldChange, HistoryEvent, Reservation
from chalicelib.core.ports import Page, StockStore
from chalicelib.core.reference.service import ReferenceService, RefKey, RefKind, Resolved, deterministic_id
from chalicelib.core.stock.service import StockService
from chalicelib.core.values import number_problem, text_problem

# Every write of a request is one transaction.
MAX_WRITES = TRANSACTION_ITEMS
MAX_REFERENCE_CHARS = 100
MAX_TEXT_CHARS = 200
MAX_NOTES_CHARS = 2000
# Six digits: the line-items index sorts lines by number inside its key (storage/keys.order_line_listing).
MAX_LINE_NUMBER = 999_999
STATUSES = ("open", "confirmed", "in_progress", "dispatched", "completed", "cancelled")
DEFAULT_STATUS = "open"
ORDER_ENTITY = "order"
LINE_ENTITY = "order_line"
DIMENSIONS = ("diameter", "length", "width", "depth")
# Line text fields where an empty string means "none".
OPTIONAL_TEXT = ("type", "material", "required_heat_code")

ORDER_INPUT_FIELDS = (
    "order_reference",
    "quantity",
    "order_date",
    "delivery_date",
    "site",
    "status",
    "related_organisation_id",
)
LINE_INPUT_FIELDS = (
    "line_number",
    "product_name",
    "type",
    "material",
    *DIMENSIONS,
    "quantity",
    "weight",
    "required_heat_code",
    "certification_required",
    "notes",
)

# Core field -> documented 003 field, for errors and history.
DOCUMENTED: dict[str, str] = {
    "order_id": "orderId",
    "tenant_id": "companyId",
    "order_reference": "orderReference",
    "quantity": "quantity",
    "order_date": "orderDate",
    "delivery_date": "deliveryDate",
    "site": "site",
    "status": "status",
    "active": "active",
    "related_organisation_id": "relatedOrganisationId",
    "created_at": "createdAt",
    "updated_at": "updatedAt",
    "version": "version",
    "line_item_id": "lineItemId",
    "line_number": "lineNumber",
    "product_name": "productName",
    "type": "type",
    "material": "material",
    "diameter": "diameter",
    "length": "length",
    "width": "width",
    "depth": "depth",
    "weight": "weight",
    "required_heat_code": "requiredHeatCode",
    "certification_required": "certificationRequired",
    "notes": "notes",
}
DOCUMENTED_ENTITY = {ORDER_ENTITY: "order", LINE_ENTITY: "orderLineItem"}
# Bookkeeping of the line item that says nothing to a 003 user.
HIDDEN_FIELDS = frozenset({"deleted_with_order"})


def documented(core_field: str) -> str:
    return DOCUMENTED.get(core_field, core_field)


# -- model -------------------------------------------------------------------


class Order(Entity):
    order_id: str = Field(default_factory=new_id)
    order_reference: str
    quantity: Decimal = ZERO
    order_date: date | None = None
    delivery_date: date | None = None
    site: str | None = None
    status: str = DEFAULT_STATUS
    related_organisation_id: str | None = None
    active: bool = True

    @field_serializer("order_date", "delivery_date")
    def _iso_date(self, value: date | None) -> str | None:
        # Stored and compared as ISO text: DynamoDB has no date type.
        return value.isoformat() if value else None


class LineItem(Entity):
    """One line of an order, as a metals stockholder writes it: what, how big, how many, what paperwork."""

    line_item_id: str = Field(default_factory=new_id)
    order_id: str
    line_number: int
    product_name: str
    type: str | None = None  # inventory-type reference id
    material: str | None = None  # inventory-material reference id (grade)
    diameter: Decimal | None = None  # mm
    length: Decimal | None = None  # mm
    width: Decimal | None = None  # mm
    depth: Decimal | None = None  # mm
    quantity: Decimal
    weight: Decimal | None = None  # kg
    required_heat_code: str | None = None
    certification_required: bool = False
    notes: str | None = None
    active: bool = True
    # Set when the line was soft-deleted by its order's delete, so a restore
    # brings back exactly those lines and not lines an update removed earlier.
    deleted_with_order: bool = False


# -- inputs and results -------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    """A line item as the client sent it, in core names. `given` lists the fields it sent."""

    given: frozenset[str] = frozenset()
    line_item_id: str | None = None
    line_number: int | None = None
    product_name: str | None = None
    type: str | None = None
    material: str | None = None
    diameter: Decimal | None = None
    length: Decimal | None = None
    width: Decimal | None = None
    depth: Decimal | None = None
    quantity: Decimal | None = None
    weight: Decimal | None = None
    required_heat_code: str | None = None
    certification_required: bool | None = None
    notes: str | None = None
    version: int | None = None


@dataclass(frozen=True)
class OrderInput:
    """An order as the client sent it, in core names.

    On update only the fields in `given` change; `line_items` is the complete
    list of the order's lines (None: the lines stay as they are).
    """

    given: frozenset[str] = frozenset()
    order_id: str | None = None
    version: int | None = None
    order_reference: str | None = None
    quantity: Decimal | None = None
    order_date: date | None = None
    delivery_date: date | None = None
    site: str | None = None
    status: str | None = None
    related_organisation_id: str | None = None
    line_items: tuple[LineInput, ...] | None = None


@dataclass(frozen=True)
class OrderView:
    """An order as the surface shows it: customer name resolved, active lines in line-number order."""

    order: Order
    customer_name: str | None
    line_items: list[LineItem] = field(default_factory=list)


@dataclass(frozen=True)
class ReserveResult:
    linked_inventory_id: str
    original_inventory_id: str
    was_split: bool
    order_line_item_id: str
    reservation_id: str


@dataclass(frozen=True)
class UnreserveResult:
    link_id: str  # the (most recent) released reservation
    order_line_item_id: str
    inventory_id: str
    released_ids: tuple[str, ...]


# -- storage port -------------------------------------------------------------


@dataclass(frozen=True)
class StoredOrder:
    order: Order
    lines: list[LineItem]  # every line, deleted ones too


@dataclass(frozen=True)
class LineWrite:
    line: LineItem
    previous_version: int | None = None  # None: a new line


@dataclass(frozen=True)
class OrderWrite:
    """One order's share of a transaction: its header, the lines that change, and guard moves."""

    order: Order
    previous_version: int | None = None  # None: a new order
    lines: tuple[LineWrite, ...] = ()
    take_reference: str | None = None
    free_reference: str | None = None

    @property
    def size(self) -> int:
        return 1 + len(self.lines) + (self.take_reference is not None) + (self.free_reference is not None)


class OrderStore(Protocol):
    """Orders and their lines. `save` writes all or nothing; its errors name the write's position:
    AlreadyExists `[i].orderReference` for a taken reference, `[i].orderId` for an existing new order;
    StaleVersion `[i].version` when a version moved."""

    def save(self, tenant_id: str, writes: list[OrderWrite], actor: Actor) -> None: ...
    def get_order(self, tenant_id: str, order_id: str) -> StoredOrder | None: ...
    def get_orders(self, tenant_id: str, order_ids: Iterable[str]) -> dict[str, StoredOrder]: ...
    def order_headers(self, tenant_id: str, order_ids: Iterable[str]) -> dict[str, Order]: ...
    def order_ids_by_reference(self, tenant_id: str, references: Iterable[str]) -> dict[str, str]: ...
    def list_orders(
        self, tenant_id: str, active: bool, limit: int, cursor: dict[str, object] | None
    ) -> Page[Order]: ...
    def active_lines_page(self, tenant_id: str, limit: int, cursor: dict[str, object] | None) -> Page[LineItem]: ...


# -- service ------------------------------------------------------------------


class OrderService:
    def __init__(
        self,
        stock: StockService,
        stock_store: StockStore,
        store: OrderStore,
        reference: ReferenceService,
        history: HistoryService,
    ) -> None:
        self._stock = stock
        self._records = stock_store
        self._store = store
        self._reference = reference
        self._history = history

    # -- reads -------------------------------------------------------------

    def page(
        self, tenant_id: str, limit: int, cursor: dict[str, object] | None, active: bool = True
    ) -> Page[OrderView]:
        """One page of active (or deleted) orders, newest first; customer names cost one batched read."""
        page = self._store.list_orders(tenant_id, active, limit, cursor)
        names = self._names(tenant_id, page.items)
        return Page([OrderView(o, _label(names, o)) for o in page.items], page.cursor)

    def get(self, tenant_id: str, order_id: str) -> OrderView:
        stored = self._active(tenant_id, order_id)
        return self._views(tenant_id, [stored])[0]

    def history(self, tenant_id: str, order_id: str) -> list[HistoryEvent]:
        """The order's and its lines' field-level history in one timeline, in documented names.

        Deleted orders and removed lines keep their history.
        """
        stored = self._store.get_order(tenant_id, order_id)
        if stored is None:
            raise NotFound(f"order {order_id} not found")
        entities = [(ORDER_ENTITY, order_id)] + [(LINE_ENTITY, line.line_item_id) for line in stored.lines]
        return [translate_event(e) for e in self._history.interleaved(tenant_id, entities)]

    def reservations_of(self, tenant_id: str, order_id: str) -> list[Reservation]:
        """Active reservations of the order's lines (one Query on the order's claims index)."""
        return [r for r in self._records.reservations_for_order(tenant_id, order_id) if r.status == ClaimStatus.ACTIVE]

    def lines_page(self, tenant_id: str, limit: int, cursor: dict[str, object] | None) -> Page[tuple[LineItem, str]]:
        """One page of the active lines of active orders, each with its order's orderReference.

        Newest order first (as `page`), by line number within an order, read
        from the lines index whatever the number of orders: one Query, and one
        BatchGetItem of the page's order headers (per 100 orders it touches).
        The index is eventually consistent; the headers are read consistently,
        so lines of an order deleted since are left out. A page may hold
        fewer than `limit` lines and still have a cursor.
        """
        page = self._store.active_lines_page(tenant_id, limit, cursor)
        headers = self._store.order_headers(tenant_id, {line.order_id for line in page.items})
        kept = [
            (line, headers[line.order_id].order_reference)
            for line in page.items
            if line.order_id in headers and headers[line.order_id].active
        ]
        return Page(kept, page.cursor)

    # -- writes ------------------------------------------------------------

    def create(
        self, tenant_id: str, inputs: list[OrderInput], actor: Actor, command_id: str | None = None
    ) -> list[OrderView]:
        """Create orders with their lines in ONE transaction; nothing is written on any error.

        With a command id (Idempotency-Key) the ids derive from it, so a retry
        answers with what the first attempt created.
        """
        _check_not_empty(inputs)
        errors: list[Problem] = []
        for index, entry in enumerate(inputs):
            errors += _check_order(index, entry, creating=True)
        _raise_if(errors, "invalid order")
        _check_unique_references(
            [(index, entry.order_reference or "") for index, entry in enumerate(inputs)],
            ValidationFailed,
            "appears twice in this request",
        )
        now = utcnow()
        writes: list[OrderWrite] = []
        for index, entry in enumerate(inputs):
            order_id = deterministic_id(command_id, index) if command_id else new_id()
            writes.append(self._new_order(tenant_id, index, order_id, entry, command_id, now))
        _check_writes(writes)
        resolved = self._check_references(tenant_id, inputs, [None] * len(inputs), [w.order for w in writes])
        if command_id:
            done = self._store.order_headers(tenant_id, [w.order.order_id for w in writes])
            if done:
                # A retry of a create that already ran: answer with what it made.
                stored = self._store.get_orders(tenant_id, [w.order.order_id for w in writes])
                return self._views(tenant_id, [stored[i] for i in (w.order.order_id for w in writes) if i in stored])
        self._store.save(tenant_id, writes, actor)
        return self._views(tenant_id, [_stored(w) for w in writes], resolved)

    def update(self, tenant_id: str, inputs: list[OrderInput], actor: Actor) -> list[OrderView]:
        """Update orders and their complete line lists in ONE transaction.

        Lines with a known lineItemId are updated (a removed one comes back),
        lines without an id, or with an unknown well-formed one, are created,
        and active lines missing from `line_items` are soft-deleted; their
        reservations are released after the transaction.
        """
        _check_not_empty(inputs)
        errors: list[Problem] = []
        for index, entry in enumerate(inputs):
            errors += _check_order(index, entry, creating=False)
        _raise_if(errors, "invalid order")
        ids = [entry.order_id or "" for entry in inputs]
        _check_unique_ids(ids, "orderId")
        stored = self._existing(tenant_id, ids, "orderId")
        now = utcnow()
        writes: list[tuple[OrderWrite, StoredOrder]] = []
        for index, entry in enumerate(inputs):
            previous = stored[entry.order_id or ""]
            writes.append((self._changed_order(tenant_id, index, previous, entry, now), previous))
        _check_guard_moves([w for w, _ in writes])
        _check_writes([w for w, _ in writes])
        resolved = self._check_references(
            tenant_id, inputs, [previous for _, previous in writes], [w.order for w, _ in writes]
        )
        changed = [w for w, previous in writes if _differs(w, previous)]
        if changed:
            self._store.save(tenant_id, changed, actor)
        for write, previous in writes:
            self._release_removed_lines(tenant_id, write, previous, actor)
        return self._views(tenant_id, [_stored(w, previous) for w, previous in writes], resolved)

    def delete(self, tenant_id: str, ids: list[str], actor: Actor) -> list[str]:
        """Soft-delete orders and their active lines in ONE transaction, then release their reservations.

        The orderReference is freed, so a new order may use it. The stock
        goes back to available; a restore does not take it back.
        """
        _check_not_empty(ids)
        _check_unique_ids(ids, "ids")
        stored = self._existing(tenant_id, ids, "ids")
        now = utcnow()
        writes = []
        for order_id in ids:
            previous = stored[order_id]
            lines = tuple(
                LineWrite(_bumped(line, now, active=False, deleted_with_order=True), line.version)
                for line in previous.lines
                if line.active
            )
            order = _bumped(previous.order, now, active=False)
            writes.append(OrderWrite(order, previous.order.version, lines, free_reference=order.order_reference))
        _check_writes(writes)
        self._store.save(tenant_id, writes, actor)
        for order_id in ids:
            for reservation in self.reservations_of(tenant_id, order_id):
                self._stock.release(tenant_id, reservation.reservation_id, actor, known=reservation)
        return ids

    def restore(self, tenant_id: str, ids: list[str], actor: Actor) -> list[str]:
        """Reactivate deleted orders and the lines that were deleted with them, in ONE transaction.

        Lines an update removed before the delete stay removed. Reservations
        released by the delete are NOT taken back: the stock may have been
        reserved or used since, so the lines must be reserved again. A
        restore fails with AlreadyExists (409) when another active order now
        uses the same orderReference.
        """
        _check_not_empty(ids)
        _check_unique_ids(ids, "ids")
        found = self._store.get_orders(tenant_id, ids)
        missing = [(index, i) for index, i in enumerate(ids) if i not in found or found[i].order.active]
        if missing:
            raise NotFound(
                f"deleted order {missing[0][1]} not found",
                [_err(_at(index, "ids"), f"{i} not found among deleted orders") for index, i in missing],
            )
        _check_unique_references(
            [(index, found[i].order.order_reference) for index, i in enumerate(ids)],
            AlreadyExists,
            "is used by another order restored in this request",
        )
        now = utcnow()
        writes = []
        for order_id in ids:
            previous = found[order_id]
            lines = tuple(
                LineWrite(_bumped(line, now, active=True, deleted_with_order=False), line.version)
                for line in previous.lines
                if line.deleted_with_order and not line.active
            )
            order = _bumped(previous.order, now, active=True)
            writes.append(OrderWrite(order, previous.order.version, lines, take_reference=order.order_reference))
        _check_writes(writes)
        self._store.save(tenant_id, writes, actor)
        return ids

    # -- reservations ------------------------------------------------------

    def reserve(
        self,
        tenant_id: str,
        order_id: str,
        line_item_id: str,
        stock_id: str,
        quantity: Decimal,
        split: bool,
        actor: Actor,
        command_id: str | None = None,
    ) -> ReserveResult:
        """Reserve stock of an inventory row for an order line; never more than the row has available.

        split=False: `quantity` must be the row's full quantity, and the row
        itself is reserved. split=True: a smaller quantity moves into a new
        row named "<name> (<orderReference>)" that is reserved whole, in one
        transaction; the full quantity reserves the row itself.
        """
        if not quantity.is_finite() or quantity <= 0:
            raise ValidationFailed("reserveQuantity must be positive", [_err("reserveQuantity", "must be > 0")])
        stored = self._active(tenant_id, order_id)
        line = next((x for x in stored.lines if x.line_item_id == line_item_id and x.active), None)
        if line is None:
            raise NotFound(f"line item {line_item_id} not found in order {order_id}", [_err("lineItemId", "not found")])
        record = self._records.get_record(tenant_id, stock_id)
        if record is None or not record.active:
            raise NotFound(f"inventory item {stock_id} not found", [_err("inventoryId", "not found")])
        if not split and quantity != record.on_hand:
            raise ValidationFailed(
                f"without split, reserveQuantity must be the item's full quantity {record.on_hand}",
                [_err("reserveQuantity", f"must equal {record.on_hand} when split is 0")],
            )
        if quantity > record.available:
            raise _insufficient(record.available)
        reference = {"orderId": order_id, "orderReference": stored.order.order_reference, "lineItemId": line_item_id}
        try:
            reservation = self._stock.split_and_reserve(
                tenant_id,
                stock_id,
                quantity,
                actor,
                reference=reference,
                name=f"{record.name or ''} ({stored.order.order_reference})".strip(),
                record=record,
                new_stock_id=deterministic_id(command_id, 0) if command_id else None,
                reservation_id=deterministic_id(command_id, 1) if command_id else None,
                command_id=command_id,
            )
        except InsufficientStock as exc:
            # Another request took the stock between our read and our write.
            current = self._records.get_record(tenant_id, stock_id)
            raise _insufficient(current.available if current else ZERO) from exc
        except ExpectationFailed as exc:
            raise ExpectationFailed(
                "the item's quantity changed while reserving; read it again",
                [_err("reserveQuantity", "the item's quantity changed")],
            ) from exc
        return ReserveResult(
            linked_inventory_id=reservation.stock_id,
            original_inventory_id=stock_id,
            was_split=reservation.stock_id != stock_id,
            order_line_item_id=line_item_id,
            reservation_id=reservation.reservation_id,
        )

    def unreserve(
        self, tenant_id: str, order_id: str, line_item_id: str, stock_id: str, actor: Actor
    ) -> UnreserveResult:
        """Release the line's active reservations on that inventory row. A split row stays as it is."""
        stored = self._active(tenant_id, order_id)
        if not any(line.line_item_id == line_item_id for line in stored.lines):
            raise NotFound(f"line item {line_item_id} not found in order {order_id}", [_err("lineItemId", "not found")])
        links = [
            r
            for r in self.reservations_of(tenant_id, order_id)
            if r.stock_id == stock_id and r.reference.get("lineItemId") == line_item_id
        ]
        if not links:
            raise NotFound(
                f"line item {line_item_id} has no reservation on inventory item {stock_id}",
                [_err("inventoryId", "no active reservation for this line")],
            )
        links.sort(key=lambda r: r.created_at, reverse=True)
        for reservation in links:
            self._stock.release(tenant_id, reservation.reservation_id, actor, known=reservation)
        return UnreserveResult(
            link_id=links[0].reservation_id,
            order_line_item_id=line_item_id,
            inventory_id=stock_id,
            released_ids=tuple(r.reservation_id for r in links),
        )

    # -- helpers -----------------------------------------------------------

    def _active(self, tenant_id: str, order_id: str) -> StoredOrder:
        stored = self._store.get_order(tenant_id, order_id)
        if stored is None or not stored.order.active:
            raise NotFound(f"order {order_id} not found", [_err("orderId", "not found")])
        return stored

    def _existing(self, tenant_id: str, ids: list[str], field_name: str) -> dict[str, StoredOrder]:
        found = {k: v for k, v in self._store.get_orders(tenant_id, ids).items() if v.order.active}
        missing = [(index, i) for index, i in enumerate(ids) if i not in found]
        if missing:
            raise NotFound(
                f"order {missing[0][1]} not found",
                [_err(_at(index, field_name), f"{i} not found") for index, i in missing],
            )
        return found

    def _new_order(
        self, tenant_id: str, index: int, order_id: str, entry: OrderInput, command_id: str | None, now: datetime
    ) -> OrderWrite:
        # Orders of one request are created in request order: a microsecond apart, so lists sort them so.
        now += timedelta(microseconds=index)
        line_inputs = entry.line_items or ()
        numbers = _line_numbers(index, line_inputs)
        _check_line_ids(index, line_inputs)
        lines = []
        for j, (line_input, number) in enumerate(zip(line_inputs, numbers, strict=True)):
            line_id = line_input.line_item_id or (
                deterministic_id(f"{command_id}:{index}", j) if command_id else new_id()
            )
            lines.append(_new_line(tenant_id, order_id, line_id, number, line_input, now))
        reference = (entry.order_reference or "").strip()
        order = Order(
            tenant_id=tenant_id,
            order_id=order_id,
            order_reference=reference,
            quantity=_quantity(lines, entry.quantity, ZERO),
            order_date=entry.order_date,
            delivery_date=entry.delivery_date,
            site=entry.site,
            status=_status(entry.status) or DEFAULT_STATUS,
            related_organisation_id=entry.related_organisation_id or None,
            created_at=now,
            updated_at=now,
        )
        _check_dates(index, order)
        return OrderWrite(order, None, tuple(LineWrite(line) for line in lines), take_reference=reference)

    def _changed_order(
        self, tenant_id: str, index: int, previous: StoredOrder, entry: OrderInput, now: datetime
    ) -> OrderWrite:
        old = previous.order
        if entry.version is not None and entry.version != old.version:
            raise StaleVersion(
                f"order {old.order_id} is at version {old.version}, not {entry.version}",
                [_err(_at(index, "version"), f"current version is {old.version}")],
            )
        line_writes, active_lines = self._changed_lines(tenant_id, index, previous, entry, now)
        updates: dict[str, Any] = {}
        for name in ORDER_INPUT_FIELDS:
            if name in entry.given and name != "quantity":
                updates[name] = getattr(entry, name)
        if "order_reference" in updates:
            updates["order_reference"] = (updates["order_reference"] or "").strip() or old.order_reference
        if "status" in updates:
            updates["status"] = _status(updates["status"]) or old.status
        if "related_organisation_id" in updates:
            updates["related_organisation_id"] = updates["related_organisation_id"] or None
        had_lines = any(line.active for line in previous.lines)
        fallback = old.quantity if not had_lines else ZERO
        sent = entry.quantity if "quantity" in entry.given else None
        updates["quantity"] = _quantity(active_lines, sent, fallback)
        order = old.model_copy(update={**updates, "version": old.version + 1, "updated_at": now})
        _check_dates(index, order)
        moved = _guard_key(order.order_reference) != _guard_key(old.order_reference)
        return OrderWrite(
            order,
            old.version,
            tuple(line_writes),
            take_reference=order.order_reference if moved else None,
            free_reference=old.order_reference if moved else None,
        )

    def _changed_lines(
        self, tenant_id: str, index: int, previous: StoredOrder, entry: OrderInput, now: datetime
    ) -> tuple[list[LineWrite], list[LineItem]]:
        """The line writes of an update, and the order's active lines after it."""
        existing = {line.line_item_id: line for line in previous.lines}
        if entry.line_items is None:
            return [], [line for line in previous.lines if line.active]
        inputs = entry.line_items
        _check_line_ids(index, inputs)
        numbers = _line_numbers(index, inputs, existing)
        writes: list[LineWrite] = []
        result: list[LineItem] = []
        for j, (line_input, number) in enumerate(zip(inputs, numbers, strict=True)):
            old = existing.get(line_input.line_item_id or "")
            if old is None:
                # No id, or one this order does not know: a new line, so it needs what a new line needs.
                _raise_if(_check_line(_line_at(index, j, ""), line_input, new=True), "invalid line item")
                line_id = line_input.line_item_id or new_id()
                line = _new_line(tenant_id, previous.order.order_id, line_id, number, line_input, now)
                writes.append(LineWrite(line))
                result.append(line)
                continue
            if line_input.version is not None and line_input.version != old.version:
                raise StaleVersion(
                    f"line item {old.line_item_id} is at version {old.version}, not {line_input.version}",
                    [_err(_line_at(index, j, "version"), f"current version is {old.version}")],
                )
            updates = {name: getattr(line_input, name) for name in LINE_INPUT_FIELDS if name in line_input.given}
            updates["line_number"] = number
            if "product_name" in updates:
                updates["product_name"] = (updates["product_name"] or "").strip()
            if "certification_required" in updates:
                updates["certification_required"] = bool(updates["certification_required"])
            for name in OPTIONAL_TEXT:
                if name in updates:
                    updates[name] = updates[name] or None
            updates.update(active=True, deleted_with_order=False)
            line = old.model_copy(update=updates)
            if _same(line, old):
                result.append(old)
                continue
            line = line.model_copy(update={"version": old.version + 1, "updated_at": now})
            writes.append(LineWrite(line, old.version))
            result.append(line)
        sent = {x.line_item_id for x in inputs if x.line_item_id}
        for old in previous.lines:
            if old.active and old.line_item_id not in sent:
                gone = _bumped(old, now, active=False, deleted_with_order=False)
                writes.append(LineWrite(gone, old.version))
        return writes, result

    def _check_references(
        self, tenant_id: str, inputs: list[OrderInput], previous: list[StoredOrder | None], orders: list[Order]
    ) -> dict[RefKey, Resolved]:
        """Organisations, types and materials a request newly sets must be active ones of this company.

        Values that stay as they were are not checked again (a reference
        deleted since stays on the order). The same batched read resolves
        every customer name of the response.
        """
        checks: list[tuple[At, RefKey]] = []
        for index, (entry, before) in enumerate(zip(inputs, previous, strict=True)):
            org = entry.related_organisation_id
            sets_org = before is None or "related_organisation_id" in entry.given
            if org and sets_org and (before is None or before.order.related_organisation_id != org):
                checks.append((_at(index, "relatedOrganisationId"), (RefKind.ORGANISATION.value, org)))
            old_lines = {x.line_item_id: x for x in (before.lines if before else [])}
            for j, line in enumerate(entry.line_items or ()):
                old = old_lines.get(line.line_item_id or "")
                for attr, kind in (("type", RefKind.TYPE.value), ("material", RefKind.MATERIAL.value)):
                    value = getattr(line, attr)
                    if not value or (old is not None and (attr not in line.given or getattr(old, attr) == value)):
                        continue
                    checks.append((_line_at(index, j, attr), (kind, value)))
        names = {_key(o) for o in orders if o.related_organisation_id}
        resolved = self._reference.resolve(tenant_id, names | {key for _, key in checks})
        errors = [_err(name, f"{key[1]} not found") for name, key in checks if not _active_ref(resolved.get(key))]
        _raise_if(errors, "unknown reference")
        return resolved

    def _release_removed_lines(self, tenant_id: str, write: OrderWrite, previous: StoredOrder, actor: Actor) -> None:
        was_active = {line.line_item_id for line in previous.lines if line.active}
        removed = {w.line.line_item_id for w in write.lines if not w.line.active and w.line.line_item_id in was_active}
        if not removed:
            return
        for reservation in self.reservations_of(tenant_id, write.order.order_id):
            if reservation.reference.get("lineItemId") in removed:
                self._stock.release(tenant_id, reservation.reservation_id, actor, known=reservation)

    def _names(self, tenant_id: str, orders: list[Order]) -> dict[RefKey, Resolved]:
        wanted = {(RefKind.ORGANISATION.value, o.related_organisation_id) for o in orders if o.related_organisation_id}
        return self._reference.resolve(tenant_id, wanted)

    def _views(
        self, tenant_id: str, stored: list[StoredOrder], known: dict[RefKey, Resolved] | None = None
    ) -> list[OrderView]:
        orders = [s.order for s in stored]
        names = known if known is not None else self._names(tenant_id, orders)
        missing = [o for o in orders if o.related_organisation_id and _key(o) not in names]
        if missing:
            names = {**names, **self._names(tenant_id, missing)}
        return [OrderView(s.order, _label(names, s.order), _active_lines(s.lines)) for s in stored]

    # -- import planning ---------------------------------------------------
    # The CSV import (features/orders/csv_import.py) plans one chunk of rows at a time
    # with these methods, under the rules of create and update, and commits
    # the writes together with its job checkpoint. A bad row gets an error of
    # its own and is left out; it never fails the other rows. Errors name the
    # documented field without a `[i].` index.

    def plan_order_rows(
        self, tenant_id: str, entries: list[OrderInput], new_ids: list[str]
    ) -> list[OrderWrite | DomainError | None]:
        """The orders-file rows of one chunk: for each, its write, None (it changes nothing) or its error.

        A row with an orderId updates that order (active, this company's); a
        row without one updates the active order holding its orderReference
        (any case), else creates an order with id `new_ids[i]` (a write with
        previous_version None). Reads: one BatchGetItem of reference guards,
        one of order headers, one reference resolve, and a Query only for an
        order whose quantity cell changes (its lines decide whether it may).
        Two rows of one chunk may not write the same order or reference guard.
        """
        now = utcnow()
        holders = self._store.order_ids_by_reference(tenant_id, [e.order_reference or "" for e in entries])
        targets = [e.order_id or holders.get(_guard_key(e.order_reference or "")) for e in entries]
        headers = self._store.order_headers(tenant_id, {t for t in targets if t})
        entries = [_import_quantity(e, headers.get(t or "")) for e, t in zip(entries, targets, strict=True)]
        with_lines = [t for e, t in zip(entries, targets, strict=True) if t in headers and "quantity" in e.given]
        full = self._store.get_orders(tenant_id, with_lines) if with_lines else {}
        outcomes: list[OrderWrite | DomainError | None] = []
        planned: list[tuple[int, OrderInput, StoredOrder | None]] = []
        claimed: set[tuple[str, str]] = set()
        for index, (sent, target) in enumerate(zip(entries, targets, strict=True)):
            try:
                entry, write, previous = self._plan_order_row(
                    tenant_id, index, sent, target, new_ids[index], headers, full, holders, now
                )
                if previous is not None and not _differs(write, previous):
                    outcomes.append(None)
                    continue
                _claim_in_chunk(claimed, index, "orderId" if sent.order_id else "orderReference", write)
            except DomainError as exc:
                outcomes.append(_unindexed(exc))
                continue
            outcomes.append(write)
            planned.append((index, entry, previous))
        try:
            self._check_references(tenant_id, [p[1] for p in planned], [p[2] for p in planned], [])
        except ValidationFailed as exc:
            for problem in exc.problems:
                index = planned[problem.at.index or 0][0]
                outcomes[index] = ValidationFailed(exc.message, [replace(problem, at=problem.at.in_row())])
        return outcomes

    def plan_line_rows(
        self, tenant_id: str, rows: list[tuple[str | None, str | None, LineInput]], new_ids: list[str]
    ) -> tuple[list[OrderWrite], list[DomainError | bool]]:
        """The line-items-file rows of one chunk: the order writes, and per row its error or whether it created.

        Per row: True (it creates a line), False (it updates one), or its error.

        A row is (orderId, orderReference, line): it belongs to the active
        order with that id, else to the one holding that reference. A line
        with a lineItemId updates that line of that order (a removed one comes
        back, as with PUT); one without creates a line with id `new_ids[i]`.
        Lines are only added or changed, never removed. Each order is written
        once (its header with a version guard and quantity = the sum of its
        active lines), whatever the number of its rows. Reads: one BatchGetItem
        of reference guards, one Query per distinct order, one reference resolve.
        """
        now = utcnow()
        holders = self._store.order_ids_by_reference(tenant_id, [ref or "" for oid, ref, _ in rows if not oid])
        targets = [oid or holders.get(_guard_key(ref or "")) for oid, ref, _ in rows]
        wanted = {t for t in targets if t}
        found = {k: v for k, v in self._store.get_orders(tenant_id, wanted).items() if v.order.active}
        outcomes: list[DomainError | bool | None] = [None] * len(rows)
        groups: dict[str, list[int]] = {}
        for index, ((order_id, reference, line), target) in enumerate(zip(rows, targets, strict=True)):
            error = _line_row_error(order_id, reference, line, found.get(target or ""))
            if error is not None:
                outcomes[index] = error
            else:
                groups.setdefault(target or "", []).append(index)
        lines = [replace(line, line_item_id=line.line_item_id or new_ids[i]) for i, (_, _, line) in enumerate(rows)]
        self._drop_unknown_line_references(tenant_id, groups, found, lines, outcomes)
        writes: list[OrderWrite] = []
        for target, indices in groups.items():
            write = self._plan_line_group(tenant_id, found[target], indices, lines, outcomes, now)
            if write is not None:
                writes.append(write)
        for index, (_, _, line) in enumerate(rows):
            if outcomes[index] is None:
                outcomes[index] = line.line_item_id is None
        return writes, [o for o in outcomes if o is not None]

    def _plan_order_row(
        self,
        tenant_id: str,
        index: int,
        entry: OrderInput,
        target: str | None,
        new_order_id: str,
        headers: Mapping[str, Order],
        full: Mapping[str, StoredOrder],
        holders: Mapping[str, str],
        now: datetime,
    ) -> tuple[OrderInput, OrderWrite, StoredOrder | None]:
        if target is None:
            _raise_if(_check_order(index, entry, creating=True), "invalid order")
            return entry, self._new_order(tenant_id, index, new_order_id, entry, None, now), None
        header = headers.get(target)
        if header is None or not header.active:
            name = "orderId" if entry.order_id else "orderReference"
            raise NotFound(f"order {target} not found", [_err(_at(index, name), f"{target} not found")])
        entry = replace(entry, order_id=target)
        _raise_if(_check_order(index, entry, creating=False), "invalid order")
        # Without a quantity change the lines do not matter: the header alone is the order's previous state.
        previous = full.get(target) or StoredOrder(header, [])
        write = self._changed_order(tenant_id, index, previous, entry, now)
        holder = holders.get(_guard_key(write.take_reference or ""))
        if write.take_reference and holder not in (None, target):
            raise AlreadyExists(
                f"orderReference {write.take_reference} is used by another order",
                [_err(_at(index, "orderReference"), f"{write.take_reference} is already in use")],
            )
        return entry, write, previous

    def _drop_unknown_line_references(
        self,
        tenant_id: str,
        groups: dict[str, list[int]],
        found: Mapping[str, StoredOrder],
        lines: list[LineInput],
        outcomes: list[DomainError | bool | None],
    ) -> None:
        """Rows that set a type or material that is not an active one of this company fail (one resolve)."""
        targets = list(groups)
        inputs = [_line_group_input(found[t], [lines[i] for i in groups[t]]) for t in targets]
        try:
            self._check_references(tenant_id, [e for e, _ in inputs], [found[t] for t in targets], [])
        except ValidationFailed as exc:
            for problem in exc.problems:
                if problem.at.nested is None:
                    continue
                target, kept = targets[problem.at.index or 0], inputs[problem.at.index or 0][1]
                j = problem.at.nested[1]
                if j < kept:
                    continue
                index = groups[target][j - kept]
                outcomes[index] = ValidationFailed(exc.message, [replace(problem, at=At(problem.at.field))])
        for target in targets:
            groups[target] = [i for i in groups[target] if outcomes[i] is None]

    def _plan_line_group(
        self,
        tenant_id: str,
        previous: StoredOrder,
        indices: list[int],
        lines: list[LineInput],
        outcomes: list[DomainError | bool | None],
        now: datetime,
    ) -> OrderWrite | None:
        """One order's write for its rows of a chunk; a row the rules refuse is failed and the rest planned again."""
        while indices:
            entry, kept = _line_group_input(previous, [lines[i] for i in indices])
            try:
                write = self._changed_order(tenant_id, 0, previous, entry, now)
            except DomainError as exc:
                failed = _failed_rows(exc, entry, kept, indices, outcomes)
                indices = [i for i in indices if i not in failed]
                continue
            return write if _differs(write, previous) else None
        return None


# -- pure helpers ---------------------------------------------------------------


def _new_line(tenant_id: str, order_id: str, line_id: str, number: int, entry: LineInput, now: datetime) -> LineItem:
    return LineItem(
        tenant_id=tenant_id,
        line_item_id=line_id,
        order_id=order_id,
        line_number=number,
        product_name=(entry.product_name or "").strip(),
        type=entry.type or None,
        material=entry.material or None,
        diameter=entry.diameter,
        length=entry.length,
        width=entry.width,
        depth=entry.depth,
        quantity=entry.quantity if entry.quantity is not None else ZERO,
        weight=entry.weight,
        required_heat_code=entry.required_heat_code or None,
        certification_required=bool(entry.certification_required),
        notes=entry.notes,
        created_at=now,
        updated_at=now,
    )


def _bumped(entity: Any, now: datetime, **updates: Any) -> Any:
    return entity.model_copy(update={**updates, "version": entity.version + 1, "updated_at": now})


def _same(a: Entity, b: Entity) -> bool:
    skip = {"version", "updated_at"}
    return a.model_dump(exclude=skip) == b.model_dump(exclude=skip)


def _differs(write: OrderWrite, previous: StoredOrder) -> bool:
    return bool(write.lines) or not _same(write.order, previous.order)


def _stored(write: OrderWrite, previous: StoredOrder | None = None) -> StoredOrder:
    """The order as it is after `write` (or as it was, when the write changed nothing)."""
    if previous is not None and not _differs(write, previous):
        return previous
    lines = {line.line_item_id: line for line in (previous.lines if previous else [])}
    lines.update({w.line.line_item_id: w.line for w in write.lines})
    return StoredOrder(write.order, list(lines.values()))


def _active_lines(lines: list[LineItem]) -> list[LineItem]:
    return sorted((x for x in lines if x.active), key=lambda x: (x.line_number, x.created_at))


def _quantity(lines: list[LineItem], sent: Decimal | None, fallback: Decimal) -> Decimal:
    active = [x for x in lines if x.active]
    if active:
        return sum((x.quantity for x in active), ZERO)
    return sent if sent is not None else fallback


def _line_numbers(index: int, inputs: Iterable[LineInput], existing: Mapping[str, LineItem] | None = None) -> list[int]:
    """Each line's number: the one sent, else the one it had, else the next one in request order.

    Numbers are unique among an order's active lines. A new line never takes
    the number of a removed one, so history and a re-sent removed line
    cannot be mistaken for it.
    """
    existing = existing or {}
    chosen: list[int | None] = []
    for line in inputs:
        old = existing.get(line.line_item_id or "")
        chosen.append(line.line_number if line.line_number is not None else old.line_number if old else None)
    highest = max([n for n in chosen if n is not None] + [x.line_number for x in existing.values()] + [0])
    numbers: list[int] = []
    seen: dict[int, int] = {}
    errors = []
    for j, sent in enumerate(chosen):
        if sent is None:
            highest += 1
        number = highest if sent is None else sent
        if number in seen:
            errors.append(_err(_line_at(index, j, "lineNumber"), "same as", same_as=_line_at(None, seen[number], "")))
        seen.setdefault(number, j)
        numbers.append(number)
    _raise_if(errors, "duplicate line number")
    return numbers


def _check_line_ids(index: int, inputs: Iterable[LineInput]) -> None:
    seen: dict[str, int] = {}
    errors = []
    for j, line in enumerate(inputs):
        if line.line_item_id is None:
            continue
        if not _well_formed(line.line_item_id):
            errors.append(_err(_line_at(index, j, "lineItemId"), "must be a GUID"))
        elif line.line_item_id in seen:
            same = _line_at(None, seen[line.line_item_id], "")
            errors.append(_err(_line_at(index, j, "lineItemId"), "same as", same_as=same))
        seen.setdefault(line.line_item_id, j)
    _raise_if(errors, "invalid line item id")


def _well_formed(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _check_order(index: int, entry: OrderInput, *, creating: bool) -> list[Problem]:
    """The rules of one order's fields (and its lines'), for the JSON routes and the CSV import alike."""
    errors: list[Problem] = []

    def bad(name: str, message: str | None) -> None:
        if message is not None:
            errors.append(_err(_at(index, name), message))

    if not creating and not entry.order_id:
        bad("orderId", "is required")
    if creating or "order_reference" in entry.given:
        reference = (entry.order_reference or "").strip()
        bad("orderReference", text_problem(reference, MAX_REFERENCE_CHARS) if reference else "is required")
    if entry.quantity is not None:
        bad("quantity", number_problem(entry.quantity) or ("must be >= 0" if entry.quantity < 0 else None))
    if entry.status is not None and _status(entry.status) is None:
        bad("status", "must be one of " + ", ".join(STATUSES))
    if entry.site is not None:
        bad("site", text_problem(entry.site, MAX_TEXT_CHARS))
    if entry.related_organisation_id is not None:
        bad("relatedOrganisationId", text_problem(entry.related_organisation_id, MAX_TEXT_CHARS))
    for j, line in enumerate(entry.line_items or ()):
        new = creating or line.line_item_id is None
        errors += _check_line(_line_at(index, j, ""), line, new=new)
    return errors


# Line text fields and their lengths.
LINE_TEXTS = (
    ("type", MAX_TEXT_CHARS),
    ("material", MAX_TEXT_CHARS),
    ("required_heat_code", MAX_REFERENCE_CHARS),
    ("notes", MAX_NOTES_CHARS),
)


def _check_line(at: At, line: LineInput, *, new: bool) -> list[Problem]:
    """Checks of one line; a line that may already exist is checked on the fields it sends.

    `at` is where the line is (`[i].lineItems[j]` in a request, nowhere in a CSV row).
    """
    errors: list[Problem] = []

    def bad(core_field: str, message: str | None) -> None:
        if message is not None:
            errors.append(_err(at.of(documented(core_field)), message))

    def sent(name: str) -> bool:
        return new or name in line.given

    if sent("product_name"):
        name = (line.product_name or "").strip()
        bad("product_name", text_problem(name, MAX_TEXT_CHARS) if name else "is required")
    if sent("quantity"):
        quantity = line.quantity
        if quantity is None or not quantity.is_finite() or quantity <= 0:
            bad("quantity", "is required and must be > 0")
        else:
            bad("quantity", number_problem(quantity))
    for name in (*DIMENSIONS, "weight"):
        value = getattr(line, name)
        if value is not None:
            bad(name, number_problem(value) or ("must be >= 0" if value < 0 else None))
    if line.line_number is not None and not 1 <= line.line_number <= MAX_LINE_NUMBER:
        bad("line_number", f"must be 1 to {MAX_LINE_NUMBER}")
    for name, limit in LINE_TEXTS:
        value = getattr(line, name)
        if value is not None:
            bad(name, text_problem(value, limit))
    return errors


def _check_dates(index: int, order: Order) -> None:
    if order.order_date and order.delivery_date and order.delivery_date < order.order_date:
        raise ValidationFailed(
            "deliveryDate is before orderDate", [_err(_at(index, "deliveryDate"), "must not be before orderDate")]
        )


def _check_unique_references(
    references: list[tuple[int, str]], error: type[ValidationFailed] | type[AlreadyExists], message: str
) -> None:
    seen: dict[str, int] = {}
    for index, reference in references:
        key = _guard_key(reference)
        if key in seen:
            raise error(
                f"orderReference {reference} {message}",
                [_err(_at(index, "orderReference"), "same as", same_as=At(index=seen[key]))],
            )
        seen[key] = index


def _check_guard_moves(writes: list[OrderWrite]) -> None:
    """One transaction cannot write one guard twice: refuse swaps and clashes within a request."""
    _check_unique_references(
        [(i, w.take_reference) for i, w in enumerate(writes) if w.take_reference],
        ValidationFailed,
        "appears twice in this request",
    )
    freed = {_guard_key(w.free_reference) for w in writes if w.free_reference}
    for index, write in enumerate(writes):
        if write.take_reference and _guard_key(write.take_reference) in freed:
            raise ValidationFailed(
                f"orderReference {write.take_reference} is given up by another order of this request",
                [_err(_at(index, "orderReference"), "swap references in two requests")],
            )


def _check_unique_ids(ids: list[str], field_name: str) -> None:
    for index, value in enumerate(ids):
        if ids.index(value) != index:
            raise ValidationFailed(f"{value} appears twice", [_err(_at(index, field_name), "duplicate id")])


def _check_not_empty(entries: list[Any]) -> None:
    if not entries:
        raise ValidationFailed("at least one order is required", [_err("body", "empty")])


def _check_writes(writes: list[OrderWrite]) -> None:
    total = sum(w.size for w in writes)
    if total > MAX_WRITES:
        raise ValidationFailed(
            f"this request needs {total} writes; at most {MAX_WRITES} fit in one transaction "
            "(each order, line item and orderReference change is one): send fewer orders or line items",
            [_err("body", f"{total} writes, at most {MAX_WRITES}")],
        )


def _status(value: str | None) -> str | None:
    if value is None:
        return None
    normal = value.strip().casefold().replace(" ", "_").replace("-", "_")
    return normal if normal in STATUSES else None


def _guard_key(reference: str) -> str:
    return reference.strip().casefold()


def _insufficient(available: Decimal) -> InsufficientStock:
    return InsufficientStock(f"only {available} available", [_err("reserveQuantity", f"available is {available}")])


def _raise_if(errors: list[Problem], what: str) -> None:
    if errors:
        raise ValidationFailed(f"{what}: {errors[0].at.path}", errors)


def _key(order: Order) -> RefKey:
    return (RefKind.ORGANISATION.value, order.related_organisation_id or "")


def _label(names: Mapping[RefKey, Resolved], order: Order) -> str | None:
    found = names.get(_key(order)) if order.related_organisation_id else None
    return found.label if found else None


def _active_ref(resolved: Resolved | None) -> bool:
    return resolved is not None and resolved.active


def _err(at: At | str, message: str, same_as: At | None = None) -> Problem:
    return Problem(At(at) if isinstance(at, str) else at, message, same_as)


def _at(index: int, name: str) -> At:
    return At(name, index)


def _line_at(index: int | None, j: int, name: str) -> At:
    return At(name, index, ("lineItems", j))


# -- history -----------------------------------------------------------------


def translate_event(event: HistoryEvent) -> HistoryEvent:
    """An order or line item history event in documented names, with a 003 change type."""
    changes = [
        FieldChange(field=documented(c.field), old=c.old, new=c.new)
        for c in event.changes
        if c.field not in HIDDEN_FIELDS
    ]
    return event.model_copy(
        update={
            "changes": changes,
            "change_type": documented_change_type(event),
            "entity_type": DOCUMENTED_ENTITY.get(event.entity_type, event.entity_type),
        }
    )


# -- import planning helpers ----------------------------------------------------


def _import_quantity(entry: OrderInput, header: Order | None) -> OrderInput:
    """A quantity cell equal to the order's quantity changes nothing (a re-uploaded download): leave it out."""
    if header is not None and "quantity" in entry.given and entry.quantity == header.quantity:
        return replace(entry, given=entry.given - {"quantity"})
    return entry


def _claim_in_chunk(claimed: set[tuple[str, str]], index: int, name: str, write: OrderWrite) -> None:
    """One transaction writes an item once: a row may not write an order or guard an earlier row of the chunk writes.

    `name` is the field that found the row's order.
    """
    if ("order", write.order.order_id) in claimed:
        raise ValidationFailed(
            "another row of this file changes the same order",
            [_err(_at(index, name), "another row of this file changes the same order: change an order in one row")],
        )
    guards = {("guard", _guard_key(r)) for r in (write.take_reference, write.free_reference) if r}
    if guards & claimed:
        raise ValidationFailed(
            "another row of this file takes or gives up the same orderReference",
            [_err(_at(index, "orderReference"), "another row of this file takes or gives up the same orderReference")],
        )
    claimed.add(("order", write.order.order_id))
    claimed.update(guards)


def _line_row_error(
    order_id: str | None, reference: str | None, line: LineInput, stored: StoredOrder | None
) -> DomainError | None:
    """Why a line-items row cannot be planned before the order's rules run, if it cannot."""
    if not order_id and not (reference or "").strip():
        return ValidationFailed("a line needs its order", [_err("orderId", "OrderId or OrderReference is required")])
    if stored is None:
        name, value = ("orderId", order_id) if order_id else ("orderReference", reference)
        return NotFound(f"order {value} not found", [_err(name, f"{value} not found")])
    if line.line_item_id and all(x.line_item_id != line.line_item_id for x in stored.lines):
        message = f"{line.line_item_id} not found in order {stored.order.order_id}"
        return NotFound(f"line item {message}", [_err("lineItemId", message)])
    errors = _check_line(At(), line, new=line.line_item_id is None)
    return ValidationFailed(f"invalid line item: {errors[0].at.path}", errors) if errors else None


def _line_group_input(previous: StoredOrder, lines: list[LineInput]) -> tuple[OrderInput, int]:
    """An update of the order that keeps every active line and adds or changes `lines`.

    Returns the input and the number of kept lines that come before `lines` in it.
    """
    named = {line.line_item_id for line in lines}
    kept = tuple(
        LineInput(line_item_id=x.line_item_id) for x in _active_lines(previous.lines) if x.line_item_id not in named
    )
    return OrderInput(order_id=previous.order.order_id, line_items=kept + tuple(lines)), len(kept)


def _failed_rows(
    exc: DomainError, entry: OrderInput, kept: int, indices: list[int], outcomes: list[DomainError | bool | None]
) -> set[int]:
    """Record the rows an error of the order's rules names; all of them when it names none.

    The group's update lists the `kept` active lines first, then the rows'
    lines, so a problem at `lineItems[j]` with j >= kept is row `j - kept`.
    A line it is compared with is named as a row of the file or a stored line.
    """
    lines = entry.line_items or ()

    def described(at: At) -> str:
        j = at.nested[1] if at.nested is not None else -1
        if j < 0:
            return at.path
        return f"line item {lines[j].line_item_id}" if j < kept else "another row of this file"

    failed: set[int] = set()
    for problem in exc.problems:
        nested = problem.at.nested
        if nested is None or nested[1] < kept:
            continue
        index = indices[nested[1] - kept]
        outcomes[index] = type(exc)(exc.message, [Problem(At(problem.at.field), problem.text(described))])
        failed.add(index)
    if not failed:
        for index in indices:
            outcomes[index] = _unindexed(exc)
        failed = set(indices)
    return failed


def _unindexed(exc: DomainError) -> DomainError:
    """The same error with its places relative to the row (no request index)."""
    return type(exc)(exc.message, [replace(p, at=p.at.in_row()) for p in exc.problems])
