"""The order rules that need no storage: validation, line numbering, quantities, error positions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.core.errors import (
    AlreadyExists,
    At,
    InsufficientStock,
    Problem,
    ValidationFailed,
)
from chalicelib.core.models import ZERO, Entity
from chalicelib.core.reference.service import RefKey, RefKind, Resolved
from chalicelib.core.values import number_problem, text_problem
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
    documented,
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
    problems = _date_problems(index, order.order_date, order.delivery_date)
    if problems:
        raise ValidationFailed("deliveryDate is before orderDate", problems)


def _date_problems(index: int, order_date: date | None, delivery_date: date | None) -> list[Problem]:
    if order_date and delivery_date and delivery_date < order_date:
        return [_err(_at(index, "deliveryDate"), "must not be before orderDate")]
    return []


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
