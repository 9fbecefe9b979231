"""000 CSV download and upload template: `/companies/{companyId}/inventory/csv[/template]`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from chalicelib.core import exports
from chalicelib.core.imports import csvcells
from chalicelib.core.tenancy.permissions import Permission
from chalicelib.features.company_inventory.csv_columns import COLUMNS, TEMPLATE_COLUMNS
from chalicelib.http.routing import Call, Reply, endpoint
from chalicelib.surfaces.company import company
from chalicelib.surfaces.company.common import PREFIX, TAG_INVENTORY
from chalicelib.surfaces.company.models import item_out
from chalicelib.wiring import export_service, inventory_service

CSV_PATH = f"{PREFIX}/inventory/csv"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
MIB = 1024 * 1024
# Said by every download that can be handed out as a URL instead of a body.
LARGE_DOWNLOAD = (
    f"A download over {exports.MAX_INLINE_BYTES // MIB} MiB (as it travels: text JSON-escaped, binary base64) "
    "does not fit a Lambda response: it is stored and answered with 303, a `Location` header and "
    f'`{{"downloadUrl": ...}}` in the body, a presigned S3 URL valid for {exports.DOWNLOAD_SECONDS // 60} minutes '
    "that downloads the same file as an attachment. Smaller files are answered inline (200)."
)
# Items per storage page: one Query and one label BatchGetItem each.
EXPORT_PAGE_SIZE = 1000

TEMPLATE_ROWS: tuple[dict[str, str], ...] = (
    {
        "productName": "Round bar 50mm S355J2",
        "quantity": "12",
        "weight": "1109.52",
        "heatCode": "H23-04417",
        "diameter": "50",
        "length": "6000",
        "unitPrice": "84.50",
    },
    {
        "productName": "Plate 20mm S275JR 2500x1250",
        "quantity": "3",
        "weight": "1471.88",
        "heatCode": "P22-11893",
        "length": "2500",
        "width": "1250",
        "depth": "20",
        "unitPrice": "612.00",
    },
    {
        "productName": "Box section 100x100x5 S355J2H",
        "quantity": "8",
        "weight": "705.60",
        "heatCode": "B24-00352",
        "length": "6000",
        "width": "100",
        "depth": "100",
        "unitPrice": "118.25",
    },
)


@endpoint(
    company,
    CSV_PATH,
    "GET",
    permissions=[Permission.INVENTORY_READ],
    summary="Download inventory as CSV",
    tag=TAG_INVENTORY,
    company_param="companyId",
    produces=CSV_CONTENT_TYPE,
    headers=("Content-Disposition", "Location", "Cache-Control"),
    description=(
        "Every active item of the company as `text/csv; charset=utf-8` (an attachment), one row per item, "
        f"columns in this order: {', '.join(COLUMNS)}. companyId is not a column: the path names it. Labels "
        "are resolved; numbers are written exactly as stored; null is an empty cell; timestamps are UTC "
        "ISO-8601. Text cells that a spreadsheet would run as a formula (starting with =, +, -, @, tab or "
        "carriage return) get a leading `'`; numbers, including negative quantities, are written as numbers. "
        "The items are read page by page (one query and one label read per page). Chalice cannot stream a "
        f"Lambda response, so the file is built in memory. {LARGE_DOWNLOAD} Permission: inventory.read."
    ),
)
def download_csv(call: Call) -> Reply:
    tenant = call.tenant_id
    text = csvcells.render(COLUMNS, _rows(tenant))
    return file_reply(tenant, _export_name(tenant), text, CSV_CONTENT_TYPE)


@endpoint(
    company,
    f"{CSV_PATH}/template",
    "GET",
    permissions=[Permission.INVENTORY_READ],
    summary="Get CSV upload template",
    tag=TAG_INVENTORY,
    company_param="companyId",
    produces=CSV_CONTENT_TYPE,
    headers=("Content-Disposition",),
    description=(
        "A CSV with the columns an upload accepts, in this order: "
        f"{', '.join(TEMPLATE_COLUMNS)}, and example rows of a metals stockholder. The server-owned "
        "columns of the download (labels, millCertificationId, linkedOrders, createdAt, updatedAt) are "
        "left out. inventoryId is empty in the examples: a row without one creates an item, a row with one "
        "updates it. type, material, supplierId and stockLocationId take ids of this company's reference "
        "data; the examples leave them empty: a new row without a stockLocationId goes to the company's "
        "default stock location. Permission: inventory.read."
    ),
)
def download_template(call: Call) -> Reply:
    rows = ([example.get(c) for c in TEMPLATE_COLUMNS] for example in TEMPLATE_ROWS)
    text = csvcells.render(TEMPLATE_COLUMNS, rows)
    return Reply(raw=text, content_type=CSV_CONTENT_TYPE, headers=attachment("inventory-template.csv"))


def file_reply(tenant: str, filename: str, body: bytes | str, content_type: str) -> Reply:
    """The file as an attachment, or a 303 to a short-lived S3 URL when it is too big for a Lambda response.

    Shared by every download of the company and orders surfaces.
    """
    url = export_service().hand_out(tenant, filename, body, content_type)
    if url is None:
        return Reply(raw=body, content_type=content_type, headers=attachment(filename))
    # no-store: the URL dies in minutes, a cached redirect would outlive it.
    headers = {"Location": url, "Cache-Control": "no-store"}
    return Reply(status=303, body={"downloadUrl": url}, headers=headers)


def attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


def _rows(tenant: str) -> Iterator[list[Any]]:
    """Row values of every active item, holding one page of items at a time."""
    service = inventory_service()
    cursor: dict[str, object] | None = None
    while True:
        page = service.page(tenant, EXPORT_PAGE_SIZE, cursor)
        for item in page.items:
            fields = item_out(item)
            yield [fields[c] for c in COLUMNS]
        if page.cursor is None:
            return
        cursor = page.cursor


def _export_name(tenant: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_-]", "", tenant)
    return f"inventory-{safe}-{datetime.now(UTC):%Y%m%d}.csv"
