"""003 downloads: orders as CSV, orders + line items as a ZIP, and the upload templates.

The columns and cell formats are chalicelib/features/orders/csv_columns.py's, shared with
the CSV upload, so a download can be edited and uploaded again.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime

from chalicelib.features.orders import csv_columns as order_csv
from chalicelib.features.orders.model import LineItem, OrderView
from chalicelib.http.routing import Call, Reply, endpoint
from chalicelib.surfaces.company.csv_export import LARGE_DOWNLOAD, attachment, file_reply
from chalicelib.surfaces.company.orders import orders
from chalicelib.surfaces.company.orders.common import ORDERS, READ, TAG_ORDERS
from chalicelib.wiring import order_service

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
ZIP_CONTENT_TYPE = "application/zip"
TEMPLATES_FILE = "orders-templates.zip"
# Orders per storage page: one Query and one customer-name BatchGetItem each.
EXPORT_PAGE_SIZE = 500
# Line items per storage page (ZIP): one Query on the lines index and one order-header BatchGetItem each
# (a second one only for a page that spans more than 100 orders).
LINES_PAGE_SIZE = 500

_ACCEPT = (
    "Send `Accept: application/zip` (or `*/*`): API Gateway answers a binary body only to a request that accepts it."
)
_CELLS = (
    "Null is an empty cell; numbers are written exactly as stored; dates are YYYY-MM-DD; timestamps are UTC "
    "ISO-8601; booleans are true/false. Text cells that a spreadsheet would run as a formula (starting with =, +, "
    "-, @, tab or carriage return) get a leading `'`. Chalice cannot stream a Lambda response, so the file is "
    "built in memory."
)
_ORDER_FILE = (
    f"Columns of the orders file, in this order: {', '.join(order_csv.ORDER_HEADER)}. CustomerName is resolved "
    "from RelatedOrganisationId; Quantity is the sum of the order's active line quantities when it has lines."
)
_LINE_FILE = (
    f"Columns of the line items file, in this order: {', '.join(order_csv.LINE_HEADER)}. OrderId and "
    "OrderReference link each line to its order; Type and Material are ids of the company's inventory types "
    "and materials; dimensions are mm, Weight kg."
)


@endpoint(
    orders,
    f"{ORDERS}/csv",
    "GET",
    permissions=READ,
    summary="Download orders as CSV",
    tag=TAG_ORDERS,
    company_param="companyId",
    produces=CSV_CONTENT_TYPE,
    headers=("Content-Disposition", "Location", "Cache-Control"),
    description=(
        "Every active order of the company as `text/csv; charset=utf-8` (an attachment), one row per order, "
        f"newest first. {_ORDER_FILE} {_CELLS} Orders are read page by page (one query and one customer-name "
        f"read per page). {LARGE_DOWNLOAD} Permission: orders.read."
    ),
)
def download_csv(call: Call) -> Reply:
    tenant = call.tenant_id
    rows = (order_csv.order_row(view.order, view.customer_name) for view in _views(tenant))
    text = order_csv.render(order_csv.ORDER_HEADER, rows)
    return file_reply(tenant, _export_name(tenant, "csv"), text, CSV_CONTENT_TYPE)


@endpoint(
    orders,
    f"{ORDERS}/zip",
    "GET",
    permissions=READ,
    summary="Download orders + line items (ZIP)",
    tag=TAG_ORDERS,
    company_param="companyId",
    produces=ZIP_CONTENT_TYPE,
    headers=("Content-Disposition", "Location", "Cache-Control"),
    description=(
        f"A ZIP holding `{order_csv.ORDERS_FILE}` (every active order, newest first, as the CSV download) and "
        f"`{order_csv.LINES_FILE}` (the active line items of those orders, grouped by order in the same order, "
        f"by line number). {_ORDER_FILE} {_LINE_FILE} {_CELLS} Files are UTF-8. The line items are read from "
        "their own index, page by page, so the download costs the same few reads per page whatever the number "
        f"of orders. {_ACCEPT} {LARGE_DOWNLOAD} Permission: orders.read."
    ),
)
def download_zip(call: Call) -> Reply:
    tenant = call.tenant_id
    order_rows = (order_csv.order_row(view.order, view.customer_name) for view in _views(tenant))
    line_rows = (order_csv.line_row(line, reference) for line, reference in _lines(tenant))
    archive = _zip(
        {
            order_csv.ORDERS_FILE: order_csv.render(order_csv.ORDER_HEADER, order_rows),
            order_csv.LINES_FILE: order_csv.render(order_csv.LINE_HEADER, line_rows),
        }
    )
    return file_reply(tenant, _export_name(tenant, "zip"), archive, ZIP_CONTENT_TYPE)


@endpoint(
    orders,
    f"{ORDERS}/csv/template",
    "GET",
    permissions=READ,
    summary="Get CSV upload templates (ZIP)",
    tag=TAG_ORDERS,
    company_param="companyId",
    produces=ZIP_CONTENT_TYPE,
    headers=("Content-Disposition",),
    description=(
        f"A ZIP holding `{order_csv.ORDERS_TEMPLATE_FILE}` (columns "
        f"{', '.join(order_csv.ORDER_TEMPLATE_HEADER)}) and `{order_csv.LINES_TEMPLATE_FILE}` (columns "
        f"{', '.join(order_csv.LINE_TEMPLATE_HEADER)}), each with example rows of a metals stockholder. Upload "
        "orders first, then use the same OrderReference values to link line items. OrderId and LineItemId are "
        "empty in the examples, which are new orders and lines. The download's server-owned "
        f"columns (CustomerName, Version, CreatedAt, UpdatedAt) are left out. {_ACCEPT} Permission: orders.read."
    ),
)
def download_template(call: Call) -> Reply:
    archive = _zip(
        {
            order_csv.ORDERS_TEMPLATE_FILE: order_csv.render(
                order_csv.ORDER_TEMPLATE_HEADER,
                order_csv.example_rows(order_csv.ORDER_TEMPLATE_HEADER, order_csv.TEMPLATE_ORDERS),
            ),
            order_csv.LINES_TEMPLATE_FILE: order_csv.render(
                order_csv.LINE_TEMPLATE_HEADER,
                order_csv.example_rows(order_csv.LINE_TEMPLATE_HEADER, order_csv.TEMPLATE_LINES),
            ),
        }
    )
    return Reply(raw=archive, content_type=ZIP_CONTENT_TYPE, headers=attachment(TEMPLATES_FILE))


def _pages(tenant: str) -> Iterator[list[OrderView]]:
    """Every active order, one storage page at a time."""
    service = order_service()
    cursor: dict[str, object] | None = None
    while True:
        page = service.page(tenant, EXPORT_PAGE_SIZE, cursor)
        yield page.items
        if page.cursor is None:
            return
        cursor = page.cursor


def _views(tenant: str) -> Iterator[OrderView]:
    for page in _pages(tenant):
        yield from page


def _lines(tenant: str) -> Iterator[tuple[LineItem, str]]:
    """Every active line of an active order with its order's reference, one storage page at a time."""
    service = order_service()
    cursor: dict[str, object] | None = None
    while True:
        page = service.lines_page(tenant, LINES_PAGE_SIZE, cursor)
        yield from page.items
        if page.cursor is None:
            return
        cursor = page.cursor


def _zip(files: dict[str, str]) -> bytes:
    import zipfile  # only the ZIP routes need it: kept off the cold start

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text.encode("utf-8"))
    return buffer.getvalue()


def _export_name(tenant: str, extension: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_-]", "", tenant)
    return f"orders-{safe}-{datetime.now(UTC):%Y%m%d}.{extension}"
