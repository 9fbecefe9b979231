"""000 CSV download and upload template through the real app on moto."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import wiring
from chalicelib.core.models import Actor
from chalicelib.storage.aws import on_call
from chalicelib.surfaces.company import csv_export
from tests.integration.company import Company, Refs

pytestmark = pytest.mark.shared_aws

CSV = "text/csv; charset=utf-8"
HEADER = [
    "inventoryId",
    "productName",
    "quantity",
    "weight",
    "heatCode",
    "diameter",
    "length",
    "width",
    "depth",
    "type",
    "typeLabel",
    "material",
    "materialLabel",
    "supplierId",
    "supplierName",
    "stockLocationId",
    "stockLocationLabel",
    "unitPrice",
    "millCertificationId",
    "linkedOrders",
    "createdAt",
    "updatedAt",
]
# The download's columns minus the server-owned ones. HEADER stays a literal copy of the documented
# order on purpose: a test that read csv_columns.COLUMNS would pass whatever the order became.
SERVER_OWNED = {"typeLabel", "materialLabel", "supplierName", "stockLocationLabel", "millCertificationId"}
SERVER_OWNED |= {"linkedOrders", "createdAt", "updatedAt"}
UPLOAD_HEADER = [c for c in HEADER if c not in SERVER_OWNED]
COUNTER = Actor(id="counter", name="Counter")


def read_csv(response: Any) -> tuple[list[str], list[dict[str, str]]]:
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == CSV
    text = response.body.decode() if isinstance(response.body, bytes) else response.body
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def test_download_has_the_documented_columns_and_one_row_per_active_item(acme: Company, refs: Refs) -> None:
    created = acme.ok(
        "POST",
        "/inventory",
        [
            refs.item(productName='=HYPERLINK("http://evil.example","click")', unitPrice="12.50"),
            refs.item(productName="Plate 20mm", heatCode=None, weight=None, diameter=None, width="1250"),
            refs.item(productName="Scrapped"),
        ],
        201,
    )
    acme.ok("DELETE", "/inventory", {"ids": [created[2]["inventoryId"]]})

    response = acme.call("GET", "/inventory/csv")

    header, rows = read_csv(response)
    assert header == HEADER
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="inventory-') and disposition.endswith('.csv"')
    by_id = {r["inventoryId"]: r for r in rows}
    assert sorted(by_id) == sorted(c["inventoryId"] for c in created[:2])
    formula, plate = by_id[created[0]["inventoryId"]], by_id[created[1]["inventoryId"]]
    # The formula is shown as text, never run
    assert formula["productName"] == '\'=HYPERLINK("http://evil.example","click")'
    # Numbers exactly as stored, labels resolved, nulls empty
    assert (formula["unitPrice"], formula["weight"], formula["quantity"]) == ("12.50", "12.345", "4")
    assert formula["typeLabel"] == "Round bar"
    assert formula["materialLabel"] == "S355"
    assert formula["supplierName"] == "Steel Co"
    assert formula["stockLocationLabel"] == "Yard A"
    assert formula["millCertificationId"] == refs.cert
    assert formula["linkedOrders"] == "[]"
    assert formula["createdAt"] == created[0]["createdAt"]
    assert formula["updatedAt"] == created[0]["updatedAt"]
    assert (plate["productName"], plate["width"]) == ("Plate 20mm", "1250")
    assert (plate["heatCode"], plate["weight"], plate["diameter"], plate["millCertificationId"]) == ("", "", "", "")


def test_negative_quantity_is_a_number_not_neutralised(acme: Company, refs: Refs) -> None:
    item = acme.ok("POST", "/inventory", [refs.item(productName="-Offcut")], 201)[0]
    # The tenant allows negative stock for the product; then 4 on hand, 7 taken out
    product_id = wiring.stock_service().get(acme.id, item["inventoryId"]).product_id
    wiring.catalog_service().update_product(acme.id, product_id, {"allow_negative": True}, COUNTER)
    wiring.stock_service().adjust(acme.id, item["inventoryId"], Decimal(-7), COUNTER)

    _, rows = read_csv(acme.call("GET", "/inventory/csv"))

    assert [(r["productName"], r["quantity"]) for r in rows] == [("'-Offcut", "-3")]


def test_linked_orders_come_out_as_the_documented_json_string(acme: Company, refs: Refs) -> None:
    item = acme.ok("POST", "/inventory", [refs.item()], 201)[0]
    wiring.stock_service().reserve(
        acme.id, item["inventoryId"], Decimal(1), COUNTER, reference={"orderId": "o-1", "orderReference": "=SO-1"}
    )

    _, rows = read_csv(acme.call("GET", "/inventory/csv"))

    assert rows[0]["linkedOrders"] == '[{"orderId":"o-1","orderReference":"=SO-1"}]'


def test_empty_inventory_is_the_header_only(acme: Company) -> None:
    header, rows = read_csv(acme.call("GET", "/inventory/csv"))

    assert (header, rows) == (HEADER, [])


def test_download_reads_page_by_page_with_one_label_batch_per_page(
    acme: Company, refs: Refs, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme.ok("POST", "/inventory", [refs.item(productName=f"Bar {i}") for i in range(11)], 201)
    monkeypatch.setattr(csv_export, "EXPORT_PAGE_SIZE", 4)
    calls: list[str] = []
    stop = on_call(lambda service, operation: calls.append(operation))
    try:
        _, rows = read_csv(acme.call("GET", "/inventory/csv"))
    finally:
        stop()

    assert len(rows) == len({r["inventoryId"] for r in rows}) == 11
    assert all(r["supplierName"] == "Steel Co" for r in rows)
    # Authentication first, then per page (4 + 4 + 3) one Query and one BatchGetItem, nothing per item
    pages = 3
    export = calls[calls.index("Query") :]
    assert export.count("Query") == pages
    assert export.count("BatchGetItem") == pages
    assert len(export) == 2 * pages


def test_other_company_path_is_403_for_both_routes(acme: Company, other: Company, refs: Refs) -> None:
    acme.ok("POST", "/inventory", [refs.item()], 201)

    for path in ("/inventory/csv", "/inventory/csv/template"):
        response = other.http.http.get(f"/companies/{acme.id}{path}", headers={"X-API-Key": other.key})
        assert response.status_code == 403, path
        assert "Bar 50mm" not in str(response.body)


def test_missing_permission_is_403(http: Client, acme: Company) -> None:
    _, writer = wiring.tenant_service().issue_key(acme.id, "orders", ["orders.read"], COUNTER)
    no_read = Company(http, acme.id, writer)

    assert no_read.call("GET", "/inventory/csv").status_code == 403
    assert no_read.call("GET", "/inventory/csv/template").status_code == 403


def test_template_has_the_upload_columns_and_realistic_example_rows(acme: Company) -> None:
    response = acme.call("GET", "/inventory/csv/template")

    header, rows = read_csv(response)
    assert header == UPLOAD_HEADER
    assert response.headers["Content-Disposition"] == 'attachment; filename="inventory-template.csv"'
    assert 2 <= len(rows) <= 3
    for example in rows:
        assert example["inventoryId"] == ""  # a row without an id creates
        # No location: a new row without one goes to the company's default location.
        assert example["productName"] and example["stockLocationId"] == ""
        assert Decimal(example["quantity"]) > 0
        assert Decimal(example["weight"]) > 0
        assert Decimal(example["unitPrice"]) > 0


def test_openapi_documents_csv_bodies_as_csv(http: Client) -> None:
    paths = json.loads(http.http.get("/openapi.json").body)["paths"]
    download = paths["/companies/{companyId}/inventory/csv"]
    assert list(download["get"]["responses"]["200"]["content"]) == ["text/csv"]
    assert set(download["post"]["requestBody"]["content"]) == {"text/csv", "multipart/form-data"}
    report = paths["/companies/{companyId}/imports/{jobId}/errors.csv"]["get"]
    assert list(report["responses"]["200"]["content"]) == ["text/csv"]
