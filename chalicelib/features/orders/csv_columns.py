"""The 003 order CSV files: columns, cell formatting and cell parsing.

Two files, one for orders and one for their line items, shared by the
download (orders.csv, order-line-items.csv), the upload templates and the
CSV import, so what a download writes an upload reads back unchanged.

Headers are PascalCase, as the 003 upload description names them
(OrderId, OrderReference). Each column maps to a core field of Order or
LineItem; three do not: CustomerName (the OrderView's resolved label) and,
in the line file, OrderReference (the reference of the line's order), and
the line file's OrderId, which is LineItem.order_id. A line links to its
order by OrderId or by OrderReference.

Cells: null is empty, numbers are exact (no float round trip), dates are
ISO `YYYY-MM-DD`, timestamps UTC ISO-8601 with `Z`, booleans `true`/`false`,
and text a spreadsheet would run as a formula gets a leading `'`
(csvcells). `parse` undoes all of that, so `parse(f, cell_text(f, v)) == v`.

Server-owned columns (CustomerName, CreatedAt, UpdatedAt) are in a download
and ignored by an upload: a download can be edited and uploaded again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from chalicelib.core.imports import csvcells
from chalicelib.core.imports.csvcells import FORMULA_TRIGGERS, QUOTE
from chalicelib.features.orders.model import LineItem, Order

ORDERS_FILE = "orders.csv"
LINES_FILE = "order-line-items.csv"
ORDERS_TEMPLATE_FILE = "orders-template.csv"
LINES_TEMPLATE_FILE = "order-line-items-template.csv"

# Fields that are not attributes of Order / LineItem themselves.
CUSTOMER_NAME = "customer_name"  # OrderView.customer_name, resolved from relatedOrganisationId
ORDER_REFERENCE = "order_reference"  # on the line file: the reference of the line's order

# (header, core field), in file order.
ORDER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("OrderId", "order_id"),
    ("OrderReference", "order_reference"),
    ("Quantity", "quantity"),
    ("OrderDate", "order_date"),
    ("DeliveryDate", "delivery_date"),
    ("Site", "site"),
    ("Status", "status"),
    ("RelatedOrganisationId", "related_organisation_id"),
    ("CustomerName", CUSTOMER_NAME),
    ("Version", "version"),
    ("CreatedAt", "created_at"),
    ("UpdatedAt", "updated_at"),
)
LINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("LineItemId", "line_item_id"),
    ("OrderId", "order_id"),
    ("OrderReference", ORDER_REFERENCE),
    ("LineNumber", "line_number"),
    ("ProductName", "product_name"),
    ("Type", "type"),
    ("Material", "material"),
    ("Diameter", "diameter"),
    ("Length", "length"),
    ("Width", "width"),
    ("Depth", "depth"),
    ("Quantity", "quantity"),
    ("Weight", "weight"),
    ("RequiredHeatCode", "required_heat_code"),
    ("CertificationRequired", "certification_required"),
    ("Notes", "notes"),
    ("Version", "version"),
    ("CreatedAt", "created_at"),
    ("UpdatedAt", "updated_at"),
)
ORDER_HEADER = tuple(h for h, _ in ORDER_COLUMNS)
LINE_HEADER = tuple(h for h, _ in LINE_COLUMNS)

# In a download, ignored by an upload.
SERVER_OWNED = frozenset({"CustomerName", "CreatedAt", "UpdatedAt"})
# What the upload templates show: the columns a user fills in. Version is left
# out (it only makes sense on a downloaded row); ids are there, empty in the examples.
ORDER_TEMPLATE_HEADER = tuple(h for h in ORDER_HEADER if h not in SERVER_OWNED | {"Version"})
LINE_TEMPLATE_HEADER = tuple(h for h in LINE_HEADER if h not in SERVER_OWNED | {"Version"})

# Casefolded header -> core field, for reading an upload's header row in any case.
ORDER_FIELDS_BY_HEADER: dict[str, str] = {h.casefold(): f for h, f in ORDER_COLUMNS}
LINE_FIELDS_BY_HEADER: dict[str, str] = {h.casefold(): f for h, f in LINE_COLUMNS}

DECIMAL_FIELDS = frozenset({"quantity", "diameter", "length", "width", "depth", "weight"})
INT_FIELDS = frozenset({"line_number", "version"})
DATE_FIELDS = frozenset({"order_date", "delivery_date"})
DATETIME_FIELDS = frozenset({"created_at", "updated_at"})
BOOL_FIELDS = frozenset({"certification_required"})
TRUE_WORDS = frozenset({"true", "1", "yes", "y"})
FALSE_WORDS = frozenset({"false", "0", "no", "n"})

# -- writing -----------------------------------------------------------------


def cell_text(core_field: str, value: Any) -> str:
    """One value as its CSV cell text (see the module docstring for the formats)."""
    if value is None:
        return ""
    if core_field in DATE_FIELDS and isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return csvcells.cell(value)


def order_row(order: Order, customer_name: str | None) -> list[str]:
    """An order as the cells of ORDER_COLUMNS."""
    values = {**dict(order), CUSTOMER_NAME: customer_name}
    return [cell_text(f, values.get(f)) for _, f in ORDER_COLUMNS]


def line_row(line: LineItem, order_reference: str) -> list[str]:
    """A line item as the cells of LINE_COLUMNS; order_reference is its order's."""
    values = {**dict(line), ORDER_REFERENCE: order_reference}
    return [cell_text(f, values.get(f)) for _, f in LINE_COLUMNS]


def example_rows(header: Iterable[str], examples: Iterable[Mapping[str, str]]) -> list[list[str]]:
    """Template example rows (header -> text) as cells of `header`, blanks for the columns they leave out."""
    columns = list(header)
    return [[csvcells.neutralise(example.get(h, "")) for h in columns] for example in examples]


def render(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """A CSV document (RFC 4180 quoting, CRLF line ends) of cells that are already text: nothing is formatted twice."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(list(header))
    writer.writerows(rows)
    return buffer.getvalue()


# -- reading -----------------------------------------------------------------


def unneutralised(text: str) -> str:
    """Undo the formula guard: `'=x` was written for the value `=x`."""
    if len(text) > 1 and text[0] == QUOTE and text[1] in FORMULA_TRIGGERS:
        return text[1:]
    return text


def parse(core_field: str, text: str) -> Any:
    """A cell's value for a core field; None for an empty cell. Raises ValueError with a message for the user."""
    text = unneutralised(text.strip())
    if not text:
        return None
    if core_field in DECIMAL_FIELDS:
        return csvcells.parse_decimal(text)
    if core_field in INT_FIELDS:
        return parse_int(text)
    if core_field in DATE_FIELDS:
        return parse_date(text)
    if core_field in BOOL_FIELDS:
        return parse_bool(text)
    if core_field in DATETIME_FIELDS:
        return parse_timestamp(text)
    return text


def parse_int(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a whole number")
    return int(text)


def parse_date(text: str) -> date:
    try:
        # A spreadsheet may have turned the date into a timestamp: take its date part.
        return date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def parse_bool(text: str) -> bool:
    word = text.casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{text!r} is not true or false")


def parse_timestamp(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO-8601 timestamp") from None


# -- upload templates --------------------------------------------------------

# Example rows of a metals stockholder, by header. Lines link to their orders
# by OrderReference, since a new order has no OrderId before it is uploaded.
TEMPLATE_ORDERS: tuple[dict[str, str], ...] = (
    {
        "OrderReference": "SO-1001",
        "OrderDate": "2025-03-03",
        "DeliveryDate": "2025-03-17",
        "Site": "Sheffield",
        "Status": "open",
    },
    {
        "OrderReference": "SO-1002",
        "OrderDate": "2025-03-04",
        "DeliveryDate": "2025-03-21",
        "Site": "Rotherham",
        "Status": "confirmed",
    },
)
TEMPLATE_LINES: tuple[dict[str, str], ...] = (
    {
        "OrderReference": "SO-1001",
        "LineNumber": "1",
        "ProductName": "Round bar EN24T",
        "Diameter": "50",
        "Length": "3000",
        "Quantity": "4",
        "Weight": "184.92",
        "CertificationRequired": "true",
        "Notes": "Cut to length, 3.1 certs",
    },
    {
        "OrderReference": "SO-1001",
        "LineNumber": "2",
        "ProductName": "Plate S355J2+N",
        "Length": "2000",
        "Width": "1000",
        "Depth": "20",
        "Quantity": "2",
        "Weight": "628.00",
        "RequiredHeatCode": "H24-10577",
        "CertificationRequired": "true",
    },
    {
        "OrderReference": "SO-1002",
        "LineNumber": "1",
        "ProductName": "Hollow bar 4140 QT",
        "Diameter": "80",
        "Length": "1500",
        "Quantity": "6",
        "Weight": "260.40",
        "CertificationRequired": "false",
        "Notes": "Bore 50mm",
    },
)
