"""The orders CSV import's planning: rows become the same order writes as the JSON routes make."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from chalicelib.core.errors import (
    AlreadyExists,
    DomainError,
    NotFound,
    ValidationFailed,
)
from chalicelib.core.ids import utcnow
from chalicelib.features.orders.model import LineInput, Order, OrderInput
from chalicelib.features.orders.port import OrderStore, OrderWrite, StoredOrder
from chalicelib.features.orders.rules import (
    _active_lines,
    _at,
    _check_line,
    _check_order,
    _differs,
    _err,
    _guard_key,
    _raise_if,
)
from chalicelib.features.orders.service import OrderService


class ImportPlanner:
    """Plans the rows of the orders CSV import with the same rules as the JSON routes (csv_import uses it)."""

    def __init__(self, orders: OrderService, store: OrderStore) -> None:
        self._orders = orders
        self._store = store

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
            self._orders.check_references(tenant_id, [p[1] for p in planned], [p[2] for p in planned], [])
        except ValidationFailed as exc:
            for detail in exc.details:
                position, name = _import_position(str(detail["field"]))
                index = planned[position][0]
                outcomes[index] = ValidationFailed(exc.message, [_err(name, str(detail["message"]))])
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
            return entry, self._orders.new_order(tenant_id, index, new_order_id, entry, None, now), None
        header = headers.get(target)
        if header is None or not header.active:
            name = "orderId" if entry.order_id else "orderReference"
            raise NotFound(f"order {target} not found", [_err(_at(index, name), f"{target} not found")])
        entry = replace(entry, order_id=target)
        _raise_if(_check_order(index, entry, creating=False), "invalid order")
        # Without a quantity change the lines do not matter: the header alone is the order's previous state.
        previous = full.get(target) or StoredOrder(header, [])
        write = self._orders.changed_order(tenant_id, index, previous, entry, now)
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
            self._orders.check_references(tenant_id, [e for e, _ in inputs], [found[t] for t in targets], [])
        except ValidationFailed as exc:
            for detail in exc.details:
                position, rest = _import_position(str(detail["field"]))
                match = re.fullmatch(r"lineItems\[(\d+)\]\.(.+)", rest)
                if match is None:
                    continue
                target, kept = targets[position], inputs[position][1]
                if int(match[1]) < kept:
                    continue
                index = groups[target][int(match[1]) - kept]
                outcomes[index] = ValidationFailed(exc.message, [_err(match[2], str(detail["message"]))])
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
                write = self._orders.changed_order(tenant_id, 0, previous, entry, now)
            except DomainError as exc:
                failed = _failed_rows(exc, entry, kept, indices, outcomes)
                indices = [i for i in indices if i not in failed]
                continue
            return write if _differs(write, previous) else None
        return None


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
    errors = _check_line("", line, new=line.line_item_id is None)
    return ValidationFailed(f"invalid line item: {errors[0]['field']}", errors) if errors else None


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
    """Record the rows an error of the order's rules names; all of them when it names none."""
    lines = entry.line_items or ()

    def described(match: re.Match[str]) -> str:
        j = int(match[1])
        return f"line item {lines[j].line_item_id}" if j < kept else "another row of this file"

    failed: set[int] = set()
    for detail in exc.details:
        position = re.fullmatch(r"\[\d+\]\.lineItems\[(\d+)\]\.(.+)", str(detail["field"]))
        if position is None or int(position[1]) < kept:
            continue
        index = indices[int(position[1]) - kept]
        message = re.sub(r"lineItems\[(\d+)\]", described, str(detail["message"]))
        outcomes[index] = type(exc)(exc.message, [_err(position[2], message)])
        failed.add(index)
    if not failed:
        for index in indices:
            outcomes[index] = _unindexed(exc)
        failed = set(indices)
    return failed


def _import_position(name: str) -> tuple[int, str]:
    """`[3].lineItems[0].type` -> (3, "lineItems[0].type")."""
    match = re.fullmatch(r"\[(\d+)\]\.(.+)", name)
    return (int(match[1]), match[2]) if match else (0, name)


def _unindexed(exc: DomainError) -> DomainError:
    """The same error with field names relative to the row."""
    details = [{**d, "field": _import_position(str(d.get("field", "")))[1]} for d in exc.details]
    return type(exc)(exc.message, details)
