"""003 downloads through the real app on moto: orders CSV, orders + line items ZIP, upload templates."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.core.models import Actor
from chalicelib.core.reference.service import NewReference, RefKind
from chalicelib.features.orders import csv_columns as order_csv
from chalicelib.features.orders.csv_import import LINES_KIND, ORDERS_KIND, kind_of_header
from chalicelib.features.orders.model import LineInput, OrderInput, OrderView
from chalicelib.features.orders.service import OrderService
from chalicelib.surfaces.company.orders import exports
from tests.integration.company import Company, make_company

D = Decimal
CSV = "text/csv; charset=utf-8"
ZIP = "application/zip"
CLERK = Actor(id="user-clerk", name="Clerk")
ORDERS_PERMISSIONS = ("orders.read", "orders.write")
# The documented files' columns, written out so a changed column list fails here.
ORDER_HEADER = [
    "OrderId",
    "OrderReference",
    "Quantity",
    "OrderDate",
    "DeliveryDate",
    "Site",
    "Status",
    "RelatedOrganisationId",
    "CustomerName",
    "Version",
    "CreatedAt",
    "UpdatedAt",
]
LINE_HEADER = [
    "LineItemId",
    "OrderId",
    "OrderReference",
    "LineNumber",
    "ProductName",
    "Type",
    "Material",
    "Diameter",
    "Length",
    "Width",
    "Depth",
    "Quantity",
    "Weight",
    "RequiredHeatCode",
    "CertificationRequired",
    "Notes",
    "Version",
    "CreatedAt",
    "UpdatedAt",
]
ORDER_FIELDS = frozenset(
    {"order_reference", "order_date", "delivery_date", "site", "status", "related_organisation_id"}
)
LINE_FIELDS = frozenset({"product_name", "quantity", "diameter", "length", "weight", "certification_required", "notes"})


@dataclass
class Shop:
    """A company with orders permissions, a customer, a type and a material."""

    company: Company
    orders: OrderService
    customer: str
    type_id: str
    material_id: str

    @property
    def tenant(self) -> str:
        return self.company.id

    def create(self, reference: str, *lines: LineInput, **fields: Any) -> OrderView:
        values: dict[str, Any] = {"related_organisation_id": self.customer, "site": "Sheffield", **fields}
        entry = OrderInput(
            given=ORDER_FIELDS | set(fields), order_reference=reference, line_items=tuple(lines), **values
        )
        return self.orders.create(self.tenant, [entry], CLERK)[0]

    def line(self, product: str, quantity: str, **fields: Any) -> LineInput:
        values: dict[str, Any] = {"type": self.type_id, "material": self.material_id, **fields}
        return LineInput(
            given=LINE_FIELDS | {"type", "material"} | set(fields),
            product_name=product,
            quantity=D(quantity),
            **values,
        )


def make_shop(http: Client, name: str) -> Shop:
    company = make_company(http, name, ORDERS_PERMISSIONS)
    reference = wiring.reference_service()

    def one(kind: RefKind, label: str) -> str:
        return reference.create(company.id, kind, [NewReference(label, {})], CLERK)[0].ref_id

    customer = one(RefKind.ORGANISATION, f"{name} Forge Ltd")
    return Shop(
        company, wiring.order_service(), customer, one(RefKind.TYPE, "Round bar"), one(RefKind.MATERIAL, "EN24T")
    )


@pytest.fixture
def shop(http: Client) -> Shop:
    return make_shop(http, "Acme")


@pytest.fixture
def rival(http: Client) -> Shop:
    return make_shop(http, "Rival")


def get(company: Company, path: str, accept: str = "*/*") -> Any:
    # API Gateway answers a binary body only to a request that accepts it (Accept: application/zip or */*).
    return company.call("GET", path, headers={"Accept": accept})


def body_bytes(response: Any) -> bytes:
    return response.body if isinstance(response.body, bytes) else response.body.encode()


def parse_csv(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def read_csv(response: Any) -> tuple[list[str], list[dict[str, str]]]:
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == CSV
    return parse_csv(body_bytes(response).decode("utf-8"))


def read_zip(response: Any) -> dict[str, str]:
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == ZIP
    with zipfile.ZipFile(io.BytesIO(body_bytes(response))) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def by(rows: list[dict[str, str]], column: str) -> dict[str, dict[str, str]]:
    return {row[column]: row for row in rows}


def test_csv_has_one_row_per_active_order_with_resolved_customer_names(shop: Shop, rival: Shop) -> None:
    bars = shop.create(
        "SO-1001",
        shop.line("Round bar EN24T", "4", diameter=D(50), length=D(3000)),
        shop.line("Round bar EN24T", "2.5", diameter=D(80)),
        order_date=date(2025, 3, 3),
        delivery_date=date(2025, 3, 17),
        status="confirmed",
    )
    walk_in = shop.create('=HYPERLINK("http://evil.example","x")', related_organisation_id=None, site=None)
    gone = shop.create("SO-1003", shop.line("Plate S355", "1"))
    shop.orders.delete(shop.tenant, [gone.order.order_id], CLERK)
    rival.create("SO-9999", rival.line("Hex bar", "3"))

    response = get(shop.company, "/orders/csv")

    header, rows = read_csv(response)
    assert header == ORDER_HEADER
    assert response.headers["Content-Disposition"].startswith(f'attachment; filename="orders-{shop.tenant}-')
    assert response.headers["Content-Disposition"].endswith('.csv"')
    orders = by(rows, "OrderId")
    assert set(orders) == {bars.order.order_id, walk_in.order.order_id}
    row = orders[bars.order.order_id]
    assert row == {
        "OrderId": bars.order.order_id,
        "OrderReference": "SO-1001",
        "Quantity": "6.5",
        "OrderDate": "2025-03-03",
        "DeliveryDate": "2025-03-17",
        "Site": "Sheffield",
        "Status": "confirmed",
        "RelatedOrganisationId": shop.customer,
        "CustomerName": "Acme Forge Ltd",
        "Version": "1",
        "CreatedAt": order_csv.cell_text("created_at", bars.order.created_at),
        "UpdatedAt": order_csv.cell_text("updated_at", bars.order.updated_at),
    }
    plain = orders[walk_in.order.order_id]
    # The formula is shown as text, and reads back as the reference that was stored.
    assert plain["OrderReference"] == '\'=HYPERLINK("http://evil.example","x")'
    assert order_csv.parse("order_reference", plain["OrderReference"]) == walk_in.order.order_reference
    assert (plain["CustomerName"], plain["RelatedOrganisationId"], plain["Site"], plain["OrderDate"]) == (
        "",
        "",
        "",
        "",
    )
    # Newest first, as the list route.
    assert [r["OrderId"] for r in rows] == [walk_in.order.order_id, bars.order.order_id]


def test_csv_of_a_company_without_orders_is_the_header_alone(shop: Shop) -> None:
    header, rows = read_csv(get(shop.company, "/orders/csv"))

    assert header == ORDER_HEADER
    assert rows == []


def test_zip_holds_orders_and_their_active_line_items(shop: Shop, rival: Shop) -> None:
    first = shop.create(
        "SO-1001",
        shop.line(
            "Round bar EN24T",
            "4",
            diameter=D(50),
            length=D("3000.0"),
            weight=D("184.92"),
            certification_required=True,
            notes="Cut, 3.1 certs",
        ),
        shop.line("Plate S355J2+N", "2", length=D(2000), width=D(1000), depth=D(20), required_heat_code="H24-10577"),
        shop.line("Flat bar", "1"),
    )
    second = shop.create("SO-1002", shop.line("-Hollow bar 4140", "6", diameter=D(80)))
    gone = shop.create("SO-1003", shop.line("Hex bar", "9"))
    shop.orders.delete(shop.tenant, [gone.order.order_id], CLERK)
    # Drop the third line of the first order: it is soft-deleted and must not be exported.
    kept, plate, dropped = first.line_items
    update = OrderInput(
        order_id=first.order.order_id,
        version=first.order.version,
        line_items=(LineInput(line_item_id=kept.line_item_id), LineInput(line_item_id=plate.line_item_id)),
    )
    first = shop.orders.update(shop.tenant, [update], CLERK)[0]
    rival.create("SO-9999", rival.line("Rival bar", "3"))

    response = get(shop.company, "/orders/zip")

    files = read_zip(response)
    assert response.headers["Content-Disposition"].startswith(f'attachment; filename="orders-{shop.tenant}-')
    assert response.headers["Content-Disposition"].endswith('.zip"')
    assert sorted(files) == ["order-line-items.csv", "orders.csv"]
    order_header, order_rows = parse_csv(files["orders.csv"])
    assert order_header == ORDER_HEADER
    assert [r["OrderId"] for r in order_rows] == [second.order.order_id, first.order.order_id]
    assert by(order_rows, "OrderId")[first.order.order_id]["Quantity"] == "6"
    assert by(order_rows, "OrderId")[first.order.order_id]["CustomerName"] == "Acme Forge Ltd"
    line_header, line_rows = parse_csv(files["order-line-items.csv"])
    assert line_header == LINE_HEADER
    # Grouped by order in the orders file's order, then by line number.
    assert [r["LineItemId"] for r in line_rows] == [
        second.line_items[0].line_item_id,
        kept.line_item_id,
        plate.line_item_id,
    ]
    assert dropped.line_item_id not in {r["LineItemId"] for r in line_rows}
    lines = by(line_rows, "LineItemId")
    assert lines[kept.line_item_id] == {
        "LineItemId": kept.line_item_id,
        "OrderId": first.order.order_id,
        "OrderReference": "SO-1001",
        "LineNumber": "1",
        "ProductName": "Round bar EN24T",
        "Type": shop.type_id,
        "Material": shop.material_id,
        "Diameter": "50",
        "Length": "3000.0",
        "Width": "",
        "Depth": "",
        "Quantity": "4",
        "Weight": "184.92",
        "RequiredHeatCode": "",
        "CertificationRequired": "true",
        "Notes": "Cut, 3.1 certs",
        "Version": str(first.line_items[0].version),
        "CreatedAt": order_csv.cell_text("created_at", kept.created_at),
        "UpdatedAt": order_csv.cell_text("updated_at", first.line_items[0].updated_at),
    }
    assert lines[plate.line_item_id]["RequiredHeatCode"] == "H24-10577"
    assert lines[plate.line_item_id]["CertificationRequired"] == "false"
    assert (lines[plate.line_item_id]["Width"], lines[plate.line_item_id]["Depth"]) == ("1000", "20")
    hollow = lines[second.line_items[0].line_item_id]
    assert (hollow["OrderId"], hollow["OrderReference"]) == (second.order.order_id, "SO-1002")
    assert hollow["ProductName"] == "'-Hollow bar 4140"
    # Every cell reads back, through the upload's parser, as the value that was stored.
    stored = {line.line_item_id: line for view in (first, second) for line in view.line_items}
    for row in line_rows:
        line = stored[row["LineItemId"]]
        for header, core_field in order_csv.LINE_COLUMNS:
            if core_field != order_csv.ORDER_REFERENCE:
                assert order_csv.parse(core_field, row[header]) == getattr(line, core_field), header


def test_zip_reads_every_page_of_orders_and_of_lines(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    created = [shop.create(f"SO-{n}", shop.line(f"Bar {n}", str(n)), shop.line(f"Tube {n}", "1")) for n in range(1, 4)]
    monkeypatch.setattr(exports, "EXPORT_PAGE_SIZE", 2)
    monkeypatch.setattr(exports, "LINES_PAGE_SIZE", 4)
    pages: list[int] = []
    original = OrderService.lines_page

    def spy(self: OrderService, tenant_id: str, limit: int, cursor: Any) -> Any:
        page = original(self, tenant_id, limit, cursor)
        pages.append(len(page.items))
        return page

    monkeypatch.setattr(OrderService, "lines_page", spy)

    files = read_zip(get(shop.company, "/orders/zip"))

    _, order_rows = parse_csv(files["orders.csv"])
    _, line_rows = parse_csv(files["order-line-items.csv"])
    assert [r["OrderId"] for r in order_rows] == [v.order.order_id for v in reversed(created)]
    # Lines pages do not follow the orders pages: 6 lines in pages of 4 (the last page may be empty).
    assert [r["ProductName"] for r in line_rows] == ["Bar 3", "Tube 3", "Bar 2", "Tube 2", "Bar 1", "Tube 1"]
    assert pages[:2] == [4, 2] and sum(pages) == 6
    csv_rows = read_csv(get(shop.company, "/orders/csv"))[1]
    assert {r["OrderId"] for r in csv_rows} == {v.order.order_id for v in created}


def test_templates_zip_links_example_lines_to_example_orders_by_reference(shop: Shop) -> None:
    response = get(shop.company, "/orders/csv/template", accept=ZIP)

    files = read_zip(response)
    assert response.headers["Content-Disposition"] == 'attachment; filename="orders-templates.zip"'
    assert sorted(files) == ["order-line-items-template.csv", "orders-template.csv"]
    order_header, orders = parse_csv(files["orders-template.csv"])
    line_header, lines = parse_csv(files["order-line-items-template.csv"])
    assert order_header == ["OrderId", "OrderReference", "Quantity", "OrderDate", "DeliveryDate", "Site", "Status",
                            "RelatedOrganisationId"]  # fmt: skip
    assert line_header == [h for h in LINE_HEADER if h not in {"Version", "CreatedAt", "UpdatedAt"}]
    assert kind_of_header(order_header) == ORDERS_KIND
    assert kind_of_header(line_header) == LINES_KIND
    assert len(orders) >= 2 and len(lines) >= 2
    references = {row["OrderReference"] for row in orders}
    assert "SO-1001" in references
    assert {row["OrderReference"] for row in lines} <= references
    assert all(row["OrderId"] == "" and row["LineItemId"] == "" for row in lines)
    bar = next(row for row in lines if row["ProductName"] == "Round bar EN24T")
    assert (bar["OrderReference"], bar["Diameter"], bar["Length"]) == ("SO-1001", "50", "3000")
    # Every example cell is a value the upload accepts.
    for header, rows, fields in (
        (order_header, orders, order_csv.ORDER_FIELDS_BY_HEADER),
        (line_header, lines, order_csv.LINE_FIELDS_BY_HEADER),
    ):
        for row in rows:
            for column in header:
                order_csv.parse(fields[column.casefold()], row[column])


@pytest.mark.parametrize("path", ["/orders/csv", "/orders/zip", "/orders/csv/template"])
def test_another_companys_downloads_are_forbidden(shop: Shop, rival: Shop, path: str) -> None:
    rival.create("SO-9999", rival.line("Rival bar", "3"))
    intruder = Company(shop.company.http, rival.tenant, shop.company.key)

    response = get(intruder, path)

    assert response.status_code == 403, response.body
    assert b"SO-9999" not in body_bytes(response)


@pytest.mark.parametrize("path", ["/orders/csv", "/orders/zip", "/orders/csv/template"])
def test_downloads_need_orders_read(http: Client, path: str) -> None:
    writer = make_company(http, "Writer", ("orders.write", "inventory.read"))

    response = get(writer, path)

    assert response.status_code == 403, response.body
