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

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.core.errors import (
    AlreadyExists,
    At,
    ExpectationFailed,
    InsufficientStock,
    InvalidState,
    NotFound,
    Problem,
    StaleVersion,
    UnknownReference,
    ValidationFailed,
)
from chalicelib.core.history.service import HistoryService
from chalicelib.core.ids import new_id, utcnow
from chalicelib.core.models import ZERO, Actor, ClaimStatus, HistoryEvent, Reservation
from chalicelib.core.ports import Page, StockStore, Transactions, UnitOfWork
from chalicelib.core.reference.service import ReferenceService, RefKey, RefKind, Resolved, deterministic_id
from chalicelib.core.stock.service import StockService
from chalicelib.features.orders.history import translate_event
from chalicelib.features.orders.model import (
    DEFAULT_STATUS,
    LINE_INPUT_FIELDS,
    OPTIONAL_TEXT,
    ORDER_ENTITY,
    ORDER_INPUT_FIELDS,
    LineItem,
    Order,
    OrderInput,
    OrderView,
    ReserveResult,
    UnreserveResult,
)
from chalicelib.features.orders.port import LineWrite, OrderStore, OrderWrite, StoredOrder
from chalicelib.features.orders.rules import (
    _active_lines,
    _active_ref,
    _at,
    _bumped,
    _check_dates,
    _check_guard_moves,
    _check_line,
    _check_line_ids,
    _check_not_empty,
    _check_order,
    _check_unique_ids,
    _check_unique_references,
    _check_writes,
    _date_problems,
    _differs,
    _err,
    _guard_key,
    _insufficient,
    _key,
    _label,
    _line_at,
    _line_numbers,
    _new_line,
    _quantity,
    _raise_if,
    _same,
    _status,
    _stored,
)

# A release that meets a reservation released meanwhile reads again, this many times in all.
MAX_RELEASE_ATTEMPTS = 3


def _removed_lines(write: OrderWrite, previous: StoredOrder) -> set[str]:
    """The lines `write` deactivates that were active."""
    was_active = {line.line_item_id for line in previous.lines if line.active}
    return {w.line.line_item_id for w in write.lines if not w.line.active and w.line.line_item_id in was_active}


# -- service ------------------------------------------------------------------


class OrderService:
    def __init__(
        self,
        stock: StockService,
        stock_store: StockStore,
        store: OrderStore,
        reference: ReferenceService,
        history: HistoryService,
        transactions: Transactions | None = None,
    ) -> None:
        self._stock = stock
        self._records = stock_store
        self._store = store
        self._reference = reference
        self._history = history
        # Deletes, updates that remove lines and unreserves release stock and change orders in ONE transaction.
        self._transactions = transactions

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
        if order_id not in self._store.order_headers(tenant_id, [order_id]):
            raise NotFound(f"order {order_id} not found")
        # The lines' events are stored in the order's timeline: one read for all of them.
        return [translate_event(e) for e in self._history.timeline(tenant_id, ORDER_ENTITY, order_id)]

    def reservations_of(self, tenant_id: str, order_id: str) -> list[Reservation]:
        """Active reservations of the order's lines (one Query on the order's claims index)."""
        return self._records.reservations_for_order(tenant_id, order_id, active_only=True)

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
            errors += _date_problems(index, entry.order_date, entry.delivery_date)
        if errors:
            # One answer names every mistake: the unknown references too, not only the broken rules.
            errors += self._reference_problems(tenant_id, inputs)
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
            writes.append(self.new_order(tenant_id, index, order_id, entry, command_id, now))
        _check_writes(writes)
        resolved = self.check_references(tenant_id, inputs, [None] * len(inputs), [w.order for w in writes])
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
        reservations are released in the same transaction, which fails (409)
        if a reserve for the order lands after it was read.
        """
        _check_not_empty(inputs)
        ids = [entry.order_id or "" for entry in inputs]
        writes = self._planned_updates(tenant_id, inputs, ids)
        _check_guard_moves([w for w, _ in writes])
        _check_writes([w for w, _ in writes])
        resolved = self.check_references(
            tenant_id, inputs, [previous for _, previous in writes], [w.order for w, _ in writes]
        )
        changed: list[OrderWrite] = []
        removing: dict[str, tuple[StoredOrder, set[str]]] = {}
        for write, previous in writes:
            if not _differs(write, previous):
                continue
            removed = _removed_lines(write, previous)
            if removed:
                # Guarded on the order's reserves: a reserve on a line being removed fails one of the two.
                removing[previous.order.order_id] = (previous, removed)
                changed.append(replace(write, reserves_seen=previous.reserves_seen))
            else:
                changed.append(write)
        if changed and not removing:
            self._store.save(tenant_id, changed, actor)
        elif removing:
            _check_writes(changed)
            releases = [
                r
                for r in self._registered(tenant_id, [previous for previous, _ in removing.values()])
                if r.reference.get("lineItemId") in removing[r.reference.get("orderId", "")][1]
            ]
            uow = self._begin()
            self._stock.release_all(tenant_id, releases, actor, uow=uow)
            self._store.save(tenant_id, changed, actor, uow)
            uow.commit()
        return self._views(tenant_id, [_stored(w, previous) for w, previous in writes], resolved)

    def delete(self, tenant_id: str, ids: list[str], actor: Actor) -> list[str]:
        """Soft-delete orders with their active lines and release their reservations, in ONE transaction.

        The orderReference is freed, so a new order may use it. The stock
        goes back to available; a restore does not take it back. The orders'
        reservations come from their registers (read with the orders, then one
        batched read of the reservations); the transaction is guarded on no
        reserve having landed since, so a racing reserve makes one of the two
        a 409 and nothing is left reserved for a deleted order. Calls: one
        Query per order, one BatchGetItem, one TransactWriteItems.
        """
        _check_not_empty(ids)
        _check_unique_ids(ids, "ids")
        for attempt in range(MAX_RELEASE_ATTEMPTS):
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
                writes.append(
                    OrderWrite(
                        order,
                        previous.order.version,
                        lines,
                        free_reference=order.order_reference,
                        reserves_seen=previous.reserves_seen,
                    )
                )
            _check_writes(writes)
            uow = self._begin()
            self._stock.release_all(tenant_id, self._registered(tenant_id, stored.values()), actor, uow=uow)
            self._store.save(tenant_id, writes, actor, uow)
            try:
                uow.commit()
            except InvalidState:
                # A reservation was released meanwhile (an unreserve, the expiry job): read again.
                if attempt + 1 == MAX_RELEASE_ATTEMPTS:
                    raise
                continue
            return ids
        raise AssertionError("unreachable")

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
                # The line must still be active, and the reservation joins the order's register:
                # a racing delete of the order or removal of the line fails one of the two (409).
                also=lambda uow, made: self._store.note_reservation(
                    tenant_id, order_id, line_item_id, made.reservation_id, uow
                ),
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
        """Release the line's active reservations on that inventory row, in ONE transaction.

        A split row stays as it is. The reservations come from the order's
        register (read with the order) and one batched read.
        """
        for attempt in range(MAX_RELEASE_ATTEMPTS):
            stored = self._active(tenant_id, order_id)
            if not any(line.line_item_id == line_item_id for line in stored.lines):
                raise NotFound(
                    f"line item {line_item_id} not found in order {order_id}", [_err("lineItemId", "not found")]
                )
            links = [
                r
                for r in self._registered(tenant_id, [stored])
                if r.stock_id == stock_id and r.reference.get("lineItemId") == line_item_id
            ]
            if not links:
                raise NotFound(
                    f"line item {line_item_id} has no reservation on inventory item {stock_id}",
                    [_err("inventoryId", "no active reservation for this line")],
                )
            links.sort(key=lambda r: r.created_at, reverse=True)
            try:
                self._stock.release_all(tenant_id, links, actor)
            except InvalidState:
                # Released by someone else meanwhile: read again.
                if attempt + 1 == MAX_RELEASE_ATTEMPTS:
                    raise
                continue
            return UnreserveResult(
                link_id=links[0].reservation_id,
                order_line_item_id=line_item_id,
                inventory_id=stock_id,
                released_ids=tuple(r.reservation_id for r in links),
            )
        raise AssertionError("unreachable")

    # -- helpers -----------------------------------------------------------

    def _active(self, tenant_id: str, order_id: str) -> StoredOrder:
        stored = self._store.get_order(tenant_id, order_id)
        if stored is None or not stored.order.active:
            raise NotFound(f"order {order_id} not found", [_err("orderId", "not found")])
        return stored

    def _planned_updates(
        self, tenant_id: str, inputs: list[OrderInput], ids: list[str]
    ) -> list[tuple[OrderWrite, StoredOrder]]:
        """Each order's write and what it was, or ONE error naming every problem of the request.

        As a create does, an update answers its rule errors, the unknown
        orders, the unknown references and the stale versions together: a 400
        when any problem is a broken rule or an unknown reference (everything
        else listed with it), else a 404 when an order does not exist (stale
        versions listed with it). Stale versions alone are the 409 they always were.
        """
        rules: list[Problem] = []
        for index, entry in enumerate(inputs):
            rules += _check_order(index, entry, creating=False)
        rules += _duplicate_ids(ids, "orderId")
        found = {k: v for k, v in self._store.get_orders(tenant_id, set(filter(None, ids))).items() if v.order.active}
        missing = [_err(_at(index, "orderId"), f"{i} not found") for index, i in enumerate(ids) if i and i not in found]
        now = utcnow()
        writes: list[tuple[int, OrderWrite, StoredOrder]] = []
        stale: list[StaleVersion] = []
        for index, entry in enumerate(inputs):
            previous = found.get(entry.order_id or "")
            if previous is None:
                continue
            try:
                writes.append((index, self.changed_order(tenant_id, index, previous, entry, now), previous))
            except ValidationFailed as refused:
                rules += refused.problems
            except StaleVersion as conflict:
                stale.append(conflict)
        if rules or missing:
            # Only a request already refused pays for this read: a valid one checks its references once, later.
            known = [(index, previous) for index, e in enumerate(inputs) if (previous := found.get(e.order_id or ""))]
            rules += self._update_reference_problems(tenant_id, inputs, known)
            # A line refused by the rules and again while planning its order is named once.
            stale_versions = [p for conflict in stale for p in conflict.problems]
            problems = sorted(dict.fromkeys([*rules, *missing, *stale_versions]), key=_problem_order)
            if rules:
                _raise_if(problems, "invalid order")
            raise NotFound(f"order {missing[0].message}", problems)
        if stale:
            raise stale[0]
        return [(write, previous) for _, write, previous in writes]

    def _update_reference_problems(
        self, tenant_id: str, inputs: list[OrderInput], known: list[tuple[int, StoredOrder]]
    ) -> list[Problem]:
        """The unknown references of the updates of existing orders, at their place in the request."""
        try:
            self.check_references(tenant_id, [inputs[i] for i, _ in known], [p for _, p in known], [])
        except ValidationFailed as refused:
            return [replace(p, at=replace(p.at, index=known[p.at.index or 0][0])) for p in refused.problems]
        return []

    def _existing(self, tenant_id: str, ids: list[str], field_name: str) -> dict[str, StoredOrder]:
        found = {k: v for k, v in self._store.get_orders(tenant_id, ids).items() if v.order.active}
        missing = [(index, i) for index, i in enumerate(ids) if i not in found]
        if missing:
            raise NotFound(
                f"order {missing[0][1]} not found",
                [_err(_at(index, field_name), f"{i} not found") for index, i in missing],
            )
        return found

    def new_order(
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

    def changed_order(
        self, tenant_id: str, index: int, previous: StoredOrder, entry: OrderInput, now: datetime
    ) -> OrderWrite:
        old = previous.order
        if entry.version is not None and entry.version != old.version:
            raise StaleVersion(
                f"order {old.order_id} is at version {old.version}, not {entry.version}",
                [_err(_at(index, "version"), f"current version is {old.version}")],
            )
        try:
            line_writes, active_lines = self._changed_lines(tenant_id, index, previous, entry, now)
        except ValidationFailed as refused:
            # The order's own dates are checked too, so one answer names both.
            dates = entry.order_date if "order_date" in entry.given else old.order_date
            due = entry.delivery_date if "delivery_date" in entry.given else old.delivery_date
            refused.problems += _date_problems(index, dates, due)
            raise
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
        refused: list[Problem] = []
        for j, (line_input, number) in enumerate(zip(inputs, numbers, strict=True)):
            old = existing.get(line_input.line_item_id or "")
            if old is None:
                # No id, or one this order does not know: a new line, so it needs what a new line needs.
                problems = _check_line(_line_at(index, j, ""), line_input, new=True)
                if problems:
                    refused += problems
                    continue
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
        _raise_if(refused, "invalid line item")
        sent = {x.line_item_id for x in inputs if x.line_item_id}
        for old in previous.lines:
            if old.active and old.line_item_id not in sent:
                gone = _bumped(old, now, active=False, deleted_with_order=False)
                writes.append(LineWrite(gone, old.version))
        return writes, result

    def _reference_problems(self, tenant_id: str, inputs: list[OrderInput]) -> list[Problem]:
        """The unknown references of new orders, as problems (for a request already refused on its rules)."""
        try:
            self.check_references(tenant_id, inputs, [None] * len(inputs), [])
        except ValidationFailed as refused:
            return list(refused.problems)
        return []

    def check_references(
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
        if errors:
            # Another company's id is as unknown as one that never was: 404 naming the field.
            raise UnknownReference(f"unknown reference: {errors[0].at.path}", errors)
        return resolved

    def _registered(self, tenant_id: str, stored: Iterable[StoredOrder]) -> list[Reservation]:
        """The active reservations in the orders' registers (one consistent BatchGetItem per 100)."""
        orders = {s.order.order_id: s for s in stored}
        wanted = {rid for s in orders.values() for rid in s.reservation_ids}
        if not wanted:
            return []
        found = self._records.get_reservations(tenant_id, wanted).values()
        return sorted(
            (r for r in found if r.status == ClaimStatus.ACTIVE and r.reference.get("orderId") in orders),
            key=lambda r: r.reservation_id,
        )

    def _begin(self) -> UnitOfWork:
        if self._transactions is None:
            raise RuntimeError("OrderService needs a Transactions port to release stock with an order change")
        return self._transactions.begin()

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


def _duplicate_ids(ids: list[str], field_name: str) -> list[Problem]:
    """A second mention of an id in one request, as a problem at each repeat."""
    return [_err(_at(i, field_name), "duplicate id") for i, value in enumerate(ids) if ids.index(value) != i]


def _problem_order(problem: Problem) -> tuple[int, int]:
    """Problems in request order: by entry, then line (a stable sort keeps each entry's own order)."""
    at = problem.at
    return (at.index if at.index is not None else -1, at.nested[1] if at.nested else -1)
