"""The order rules that need no storage: validation, line numbering, quantities, error positions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.core.errors import (
    AlreadyExists,
    InsufficientStock,
    ValidationFailed,
)
from chalicelib.core.models import ZERO, Entity
from chalicelib.core.reference.service import RefKey, RefKind, Resolved
from chalicelib.features.orders.model import (
    DIMENSIONS,
    MAX_LINE_NUMBER,
    MAX_NOTES_CHARS,
    MAX_REFERENCE_CHARS,
    MAX_TEXT_CHARS,
    MAX_WRITES,
    STATUSES,
    LineInput,
    LineItem,
    Order,
    OrderInput,
)
from chalicelib.features.orders.port import OrderWrite, StoredOrder

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
            errors.append(_err(_line_at(index, j, "lineNumber"), f"same as lineItems[{seen[number]}]"))
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
            errors.append(_err(_line_at(index, j, "lineItemId"), f"same as lineItems[{seen[line.line_item_id]}]"))
        seen.setdefault(line.line_item_id, j)
    _raise_if(errors, "invalid line item id")


def _well_formed(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _check_order(index: int, entry: OrderInput, *, creating: bool) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    if not creating and not entry.order_id:
        errors.append(_err(_at(index, "orderId"), "is required"))
    if creating or "order_reference" in entry.given:
        reference = (entry.order_reference or "").strip()
        if not reference:
            errors.append(_err(_at(index, "orderReference"), "is required"))
        elif len(reference) > MAX_REFERENCE_CHARS:
            errors.append(_err(_at(index, "orderReference"), f"at most {MAX_REFERENCE_CHARS} characters"))
    if entry.quantity is not None and not (entry.quantity.is_finite() and entry.quantity >= 0):
        errors.append(_err(_at(index, "quantity"), "must be >= 0"))
    if entry.status is not None and _status(entry.status) is None:
        errors.append(_err(_at(index, "status"), "must be one of " + ", ".join(STATUSES)))
    if entry.site is not None and len(entry.site) > MAX_TEXT_CHARS:
        errors.append(_err(_at(index, "site"), f"at most {MAX_TEXT_CHARS} characters"))
    for j, line in enumerate(entry.line_items or ()):
        new = creating or line.line_item_id is None
        errors += _check_line(_line_at(index, j, ""), line, new=new)
    return errors


def _check_line(prefix: str, line: LineInput, *, new: bool) -> list[dict[str, str]]:
    """Checks of one line; a line that may already exist is checked on the fields it sends."""
    errors: list[dict[str, str]] = []

    def sent(name: str) -> bool:
        return new or name in line.given

    if sent("product_name"):
        name = (line.product_name or "").strip()
        if not name:
            errors.append(_err(prefix + "productName", "is required"))
        elif len(name) > MAX_TEXT_CHARS:
            errors.append(_err(prefix + "productName", f"at most {MAX_TEXT_CHARS} characters"))
    if sent("quantity") and not (line.quantity is not None and line.quantity.is_finite() and line.quantity > 0):
        errors.append(_err(prefix + "quantity", "is required and must be > 0"))
    for name in (*DIMENSIONS, "weight"):
        value = getattr(line, name)
        if value is not None and not (value.is_finite() and value >= 0):
            errors.append(_err(prefix + name, "must be >= 0"))
    if line.line_number is not None and not 1 <= line.line_number <= MAX_LINE_NUMBER:
        errors.append(_err(prefix + "lineNumber", f"must be 1 to {MAX_LINE_NUMBER}"))
    if line.required_heat_code is not None and len(line.required_heat_code) > MAX_REFERENCE_CHARS:
        errors.append(_err(prefix + "requiredHeatCode", f"at most {MAX_REFERENCE_CHARS} characters"))
    if line.notes is not None and len(line.notes) > MAX_NOTES_CHARS:
        errors.append(_err(prefix + "notes", f"at most {MAX_NOTES_CHARS} characters"))
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
                [_err(_at(index, "orderReference"), f"same as [{seen[key]}]")],
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


def _raise_if(errors: list[dict[str, str]], what: str) -> None:
    if errors:
        raise ValidationFailed(f"{what}: {errors[0]['field']}", errors)


def _key(order: Order) -> RefKey:
    return (RefKind.ORGANISATION.value, order.related_organisation_id or "")


def _label(names: Mapping[RefKey, Resolved], order: Order) -> str | None:
    found = names.get(_key(order)) if order.related_organisation_id else None
    return found.label if found else None


def _active_ref(resolved: Resolved | None) -> bool:
    return resolved is not None and resolved.active


def _err(name: str, message: str) -> dict[str, str]:
    return {"field": name, "message": message}


def _at(index: int, name: str) -> str:
    return f"[{index}].{name}"


def _line_at(index: int, j: int, name: str) -> str:
    return f"[{index}].lineItems[{j}].{name}"
