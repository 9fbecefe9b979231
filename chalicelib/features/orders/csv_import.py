"""The 003 order CSV imports: what a row of the orders file and of the line-items file means.

One upload may carry both files; which is which is told by the header row
(`kind_of_header`), and the orders job runs before the line-items job
(core/imports/jobs.py chains them). Columns are order_csv's (any order, any case).

Orders file (job kind `orders`): a row with an OrderId updates that order; a
row without one updates the active order with the same OrderReference (any
case), else creates an order. Line-items file (kind `order-lines`): each row
belongs to the order its OrderId names, else the one its OrderReference
names; a row with a LineItemId updates that line of that order, one without
adds a line. Lines absent from the file stay as they are: an import adds and
changes, it never removes. The order's quantity stays the sum of its active
lines.

Both: a blank cell leaves a field as it is on update and unset on create; a
Version cell, when given, must match (the download's optimistic lock). The
download's server-owned columns (CustomerName, CreatedAt, UpdatedAt, and
CompanyId / Active should a file carry them) are accepted and ignored, so a
download can be edited and uploaded again. Unknown columns reject the file:
a misspelt column would otherwise drop its data silently. The rules are
ImportPlanner's (features/orders/planning.py); a bad row is reported with its
line, column and message and skipped.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.core.errors import DomainError
from chalicelib.core.imports import registry
from chalicelib.core.imports.jobs import ChunkPlan, FileRejected, Row, RowError
from chalicelib.core.models import Actor
from chalicelib.core.tenancy.permissions import Permission
from chalicelib.features.orders import csv_columns as order_csv
from chalicelib.features.orders.model import LineInput, OrderInput, documented
from chalicelib.features.orders.planning import ImportPlanner

ORDERS_KIND = "orders"
LINES_KIND = "order-lines"
ROW_NAMESPACE = uuid.UUID("5d0c2e7a-1f3b-4c8d-9e6a-2b7f4a1c8d35")
# Only the start of a file is read to tell its kind.
HEADER_BYTES = 64 * 1024

# Columns only a line-items file has: any of them makes a file a line-items file.
LINE_MARKERS = frozenset({"productname", "linenumber", "lineitemid"})
# Columns that find an order: an orders file without line columns has one of them.
ORDER_MARKERS = frozenset({"orderreference", "orderid"})
# In a download (or a copy of the JSON), owned by the server: accepted, never applied.
IGNORED = frozenset(c.casefold() for c in (*order_csv.SERVER_OWNED, "CompanyId", "Active"))


def kind_of_header(columns: Iterable[str]) -> str | None:
    """The import kind a header row belongs to: `order-lines`, `orders`, or None (neither).

    A file that names a line (ProductName, LineNumber or LineItemId) is a
    line-items file; otherwise one that names an order (OrderReference or
    OrderId) is an orders file.
    """
    names = {c.strip().lstrip("\ufeff").casefold() for c in columns}
    if names & LINE_MARKERS:
        return LINES_KIND
    if names & ORDER_MARKERS:
        return ORDERS_KIND
    return None


def kind_of_file(body: bytes) -> str | None:
    """The import kind of an uploaded file, from its first CSV record; None if it has no usable header."""
    text = body[:HEADER_BYTES].decode("utf-8-sig", errors="replace")
    try:
        header = next(csv.reader(io.StringIO(text)), [])
    except csv.Error:
        return None
    return kind_of_header(header)


class _Importer:
    """What the two files share: the header check and turning a row's cells into core values."""

    kind: str
    fields: Mapping[str, str]  # casefolded header -> core field
    headers: Mapping[str, str]  # casefolded header -> the header as documented

    def __init__(self, planner: ImportPlanner) -> None:
        self._planner = planner
        columns = order_csv.ORDER_COLUMNS if self.kind == ORDERS_KIND else order_csv.LINE_COLUMNS
        # Errors of the order rules name documented fields; a row error names the column.
        self._column_of = {documented(core): header for header, core in columns}
        self._column_of.update({core: header for header, core in columns})

    def check_header(self, columns: list[str]) -> None:
        named = [c for c in columns if c]
        kind = kind_of_header(named)
        if kind is not None and kind != self.kind:
            raise FileRejected(f"line 1: this is {_described(kind)}, not {_described(self.kind)}")
        unknown = [c for c in named if c not in self.fields and c not in IGNORED]
        if unknown:
            raise FileRejected(f"line 1: unknown column {unknown[0]!r}; the template lists the columns an upload takes")
        repeated = next((c for c in named if named.count(c) > 1), None)
        if repeated:
            raise FileRejected(f"line 1: column {repeated!r} appears twice")
        if not ORDER_MARKERS & set(named):
            raise FileRejected(f"line 1: {_described(self.kind)} needs an OrderReference or an OrderId column")

    def _values(self, row: Row) -> tuple[dict[str, Any], list[RowError]]:
        """The row's non-blank cells as core values, and the cells that cannot be read."""
        if row.problem:
            return {}, [RowError(line=row.line, field="row", message=row.problem)]
        values: dict[str, Any] = {}
        errors: list[RowError] = []
        for column, raw in row.cells.items():
            core = self.fields.get(column)
            if core is None or column in IGNORED:
                continue
            try:
                value = order_csv.parse(core, raw)
            except ValueError as exc:
                errors.append(RowError(line=row.line, field=self.headers[column], message=str(exc)))
                continue
            if value is not None:
                values[core] = value
        return values, errors

    def _row_errors(self, row: Row, error: DomainError) -> list[RowError]:
        details = error.details or [{"field": "row", "message": error.message}]
        return [
            RowError(
                line=row.line,
                field=self._column_of.get(str(d.get("field", "")), "row"),
                message=str(d.get("message", error.message)),
            )
            for d in details
        ]


class OrdersImporter(_Importer):
    kind = ORDERS_KIND
    fields = order_csv.ORDER_FIELDS_BY_HEADER
    headers = {h.casefold(): h for h in order_csv.ORDER_HEADER}

    def key_of(self, row: Row) -> str | None:
        # Rows that find one order by id or by reference go to different chunks.
        order_id = _text(row, "orderid")
        if order_id:
            return f"id:{order_id}"
        reference = _text(row, "orderreference")
        return f"ref:{reference.casefold()}" if reference else None

    def plan(self, tenant_id: str, job_id: str, rows: list[Row], actor: Actor) -> ChunkPlan:
        plan = ChunkPlan()
        parsed: list[tuple[Row, OrderInput]] = []
        for row in rows:
            values, errors = self._values(row)
            plan.errors += errors
            if not errors and not row.problem:
                parsed.append((row, _order_input(values)))
        new_ids = [_row_id(tenant_id, job_id, row) for row, _ in parsed]
        outcomes = self._planner.plan_order_rows(tenant_id, [entry for _, entry in parsed], new_ids)
        for (row, _), outcome in zip(parsed, outcomes, strict=True):
            if isinstance(outcome, DomainError):
                plan.errors += self._row_errors(row, outcome)
            elif outcome is None:
                plan.updated += 1  # it matched an order and changed nothing
            else:
                plan.feature_writes.append(outcome)
                if outcome.previous_version is None:
                    plan.created += 1
                else:
                    plan.updated += 1
        plan.errors.sort(key=lambda e: e.line)
        return plan


class OrderLinesImporter(_Importer):
    kind = LINES_KIND
    fields = order_csv.LINE_FIELDS_BY_HEADER
    headers = {h.casefold(): h for h in order_csv.LINE_HEADER}

    def key_of(self, row: Row) -> str | None:
        return _text(row, "lineitemid").casefold() or None

    def plan(self, tenant_id: str, job_id: str, rows: list[Row], actor: Actor) -> ChunkPlan:
        plan = ChunkPlan()
        parsed: list[tuple[Row, tuple[str | None, str | None, LineInput]]] = []
        for row in rows:
            values, errors = self._values(row)
            plan.errors += errors
            if not errors and not row.problem:
                parsed.append((row, _line_input(values)))
        new_ids = [_row_id(tenant_id, job_id, row) for row, _ in parsed]
        writes, outcomes = self._planner.plan_line_rows(tenant_id, [line for _, line in parsed], new_ids)
        for (row, _), outcome in zip(parsed, outcomes, strict=True):
            if isinstance(outcome, DomainError):
                plan.errors += self._row_errors(row, outcome)
            elif outcome:
                plan.created += 1
            else:
                plan.updated += 1
        plan.feature_writes = list(writes)
        plan.errors.sort(key=lambda e: e.line)
        return plan


def _order_input(values: dict[str, Any]) -> OrderInput:
    order_id = values.pop("order_id", None)
    version = values.pop("version", None)
    return OrderInput(given=frozenset(values), order_id=order_id, version=version, **values)


def _line_input(values: dict[str, Any]) -> tuple[str | None, str | None, LineInput]:
    """(the order's id, the order's reference, the line) of a line-items row."""
    order_id = values.pop("order_id", None)
    reference = values.pop(order_csv.ORDER_REFERENCE, None)
    line_item_id = values.pop("line_item_id", None)
    version = values.pop("version", None)
    line = LineInput(given=frozenset(values), line_item_id=line_item_id, version=version, **values)
    return order_id, reference, line


def _row_id(tenant_id: str, job_id: str, row: Row) -> str:
    """The id of what a row creates: the same row of the same job always makes the same order or line."""
    return str(uuid.uuid5(ROW_NAMESPACE, f"{tenant_id}\0{job_id}\0{row.line}"))


def _text(row: Row, column: str) -> str:
    return order_csv.unneutralised(row.cells.get(column, "").strip())


def _described(kind: str) -> str:
    if kind == LINES_KIND:
        return "a line-items file (it has a ProductName, LineNumber or LineItemId column)"
    return "an orders file"


registry.register(
    registry.ImportKind(
        ORDERS_KIND,
        Permission.ORDERS_READ,
        Permission.ORDERS_WRITE,
        lambda services: OrdersImporter(services.order_import_planner()),
        "orders",
    )
)
registry.register(
    registry.ImportKind(
        LINES_KIND,
        Permission.ORDERS_READ,
        Permission.ORDERS_WRITE,
        lambda services: OrderLinesImporter(services.order_import_planner()),
        "order line items",
    )
)
