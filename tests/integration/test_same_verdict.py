"""The same input gets the same verdict through the JSON routes and through a CSV import.

Each bad value is sent once as a JSON body (a 400 naming the field) and once
as a row of an uploaded file (that row's error, naming the same field; the
file's good rows are imported). The bounds come from one place
(core/values.py and the feature's check functions), so neither path can
accept what the other refuses.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from chalice.test import Client

from tests.integration.company import Company, Refs, error_fields, make_company
from tests.integration.test_inventory_import import run_upload
from tests.integration.test_orders_import import PERMISSIONS, create_order, errors_of, run, upload

# (what is wrong, documented field, bad value)
INVENTORY_CASES = [
    ("a 450-character productName", "productName", "x" * 450),
    ("a quantity with 7 decimals", "quantity", "1.1234567"),
    ("a NUL byte in productName", "productName", "Bar\x00 50mm"),
    ("a quantity of 1e200", "quantity", "1e200"),
    ("a weight of 1e200", "weight", "1e200"),
    ("a NUL byte in heatCode", "heatCode", "H\x00-1"),
    ("a 201-character heatCode", "heatCode", "H" * 201),
    ("an escape character in productName", "productName", "Bar \x1b[31m"),
]


@pytest.mark.parametrize(("case", "field", "value"), INVENTORY_CASES, ids=[c[0] for c in INVENTORY_CASES])
def test_the_json_route_refuses_each_bad_inventory_value(
    acme: Company, refs: Refs, case: str, field: str, value: str
) -> None:
    response = acme.call("POST", "/inventory", [refs.item(**{field: value})])

    assert response.status_code == 400, (case, response.body)
    assert error_fields(response) == [f"[0].{field}"], case
    assert acme.ok("GET", "/inventory") == []


def test_the_csv_import_refuses_the_same_values_on_their_rows_and_imports_the_rest(acme: Company, refs: Refs) -> None:
    header = "productName,quantity,stockLocationId,heatCode,weight"
    good = f"Good bar,2,{refs.location},H-1,3"
    rows = []
    for _, field, value in INVENTORY_CASES:
        cells = {"productName": "Bar", "quantity": "1", "stockLocationId": refs.location, "heatCode": "", "weight": ""}
        cells[field] = value
        rows.append(",".join(cells[c] for c in header.split(",")))
    text = "\n".join([header, good, *rows, good.replace("Good bar", "Good bar 2")])

    job = run_upload(acme, text)

    assert job["status"] == "completed"
    assert (job["processed"], job["created"], job["failed"]) == (len(rows) + 2, 2, len(rows))
    assert [(e["line"], e["field"]) for e in job["errors"]] == [
        (line, field) for line, (_, field, _) in enumerate(INVENTORY_CASES, start=3)
    ]
    assert sorted(i["productName"] for i in acme.ok("GET", "/inventory")) == ["Good bar", "Good bar 2"]


def test_the_csv_row_error_says_what_the_json_error_says(acme: Company, refs: Refs) -> None:
    response = acme.call("POST", "/inventory", [refs.item(quantity="1.1234567")])
    job = run_upload(acme, f"productName,quantity,stockLocationId\nBar,1.1234567,{refs.location}\n")

    json_message = json.loads(response.body)["details"][0]["message"]
    [row_error] = job["errors"]
    assert row_error["message"] in json_message


# -- orders: line items --------------------------------------------------------------


@pytest.fixture
def shop(http: Client) -> Company:
    return make_company(http, "Steel Shop", PERMISSIONS)


LINE_CASES = [
    ("a quantity with 7 decimals", "quantity", "Quantity", "1.1234567"),
    ("a quantity of 1e200", "quantity", "Quantity", "1e200"),
    ("a NUL byte in productName", "productName", "ProductName", "Bar\x00"),
    ("a 201-character productName", "productName", "ProductName", "x" * 201),
    ("a weight of 1e200", "weight", "Weight", "1e200"),
]


@pytest.mark.parametrize(("case", "field", "column", "value"), LINE_CASES, ids=[c[0] for c in LINE_CASES])
def test_order_lines_get_the_same_verdict_as_json_and_as_csv(
    shop: Company, case: str, field: str, column: str, value: str
) -> None:
    line: dict[str, Any] = {"productName": "Bar", "quantity": "2", field: value}
    response = shop.call("POST", "/orders", [{"orderReference": "SO-JSON", "lineItems": [line]}])
    assert response.status_code == 400, (case, response.body)
    assert error_fields(response) == [f"[0].lineItems[0].{field}"], case

    create_order(shop, "SO-CSV")
    cells = {"OrderReference": "SO-CSV", "ProductName": "Bar", "Quantity": "2", "Weight": "", column: value}
    text = ",".join(cells) + "\n" + ",".join(cells.values()) + "\nSO-CSV,Good,1,\n"
    [job] = run(shop, upload(shop, ("file", "order-line-items.csv", text)))

    assert job["status"] == "completed", job
    assert errors_of(job) == [(2, column)], case
    assert (job["created"], job["failed"]) == (1, 1)
