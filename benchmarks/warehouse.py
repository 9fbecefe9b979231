"""DynamoDB round trips per warehouse (001) request.

    python -m benchmarks.warehouse

Real HTTP requests through `chalice.test.Client` against moto in-process (tables from
infra/resources.json), counted with the botocore before-call hook and charged to auth,
idempotency or the route (benchmarks/company_inventory.py's machinery). Next to each figure is
the least the access pattern allows, with the reason. The seed (100 products received at one
location, half of them into a lot) goes through the same HTTP route and is not measured.
Nothing here asserts on time.
"""

from __future__ import annotations

from typing import Any

import benchmarks  # noqa: F401 - sets the AWS safety variables before boto3 is imported
from benchmarks.company_inventory import Bench, CallLog, Minimum, app_client, table
from benchmarks.maker import Maker

ROWS = 100
LINES = 40


def scenarios(bench: Bench, http: Any) -> None:
    company = Maker(http, "Bench warehouse")
    location = company.send("POST", "/api/locations", {"name": "Main"})["id"]
    products = [
        company.send("POST", "/api/products", {"name": f"Item {i}", "sku": f"I-{i}", "lotControlled": i % 2 == 0})["id"]
        for i in range(ROWS)
    ]
    for i, product in enumerate(products):
        body: dict[str, Any] = {"productMasterId": product, "locationId": location, "quantity": 50}
        if i % 2 == 0:
            body["lotNumber"] = f"L{i}"
        company.send("POST", "/api/inventory/record-stock", body)

    page = bench.requests(
        f"GET /api/inventory, {ROWS} rows (limit=100)",
        Minimum(3, "1 Query (the stock partition, one page) + 1 BatchGetItem (products) + 1 BatchGetItem (lots)"),
        lambda: company.send("GET", f"/api/inventory?limit={ROWS}"),
    )[0]
    if len(page["data"]) != ROWS:
        raise RuntimeError(f"the page held {len(page['data'])} rows")
    bench.requests(
        "GET /api/inventory?productMasterId=... (1 row)",
        Minimum(2, "1 Query (the product's records, gsi1) + 1 BatchGetItem (product; it has no lot here)"),
        lambda: company.send("GET", f"/api/inventory?productMasterId={products[1]}"),
    )
    plain = [p for i, p in enumerate(products) if i % 2 == 1][: LINES // 2]
    lotted = [p for i, p in enumerate(products) if i % 2 == 0][: LINES - len(plain)]
    lines = [{"productMasterId": p, "locationId": location, "quantityChange": -1} for p in plain + lotted]
    bench.requests(
        f"POST /api/inventory/adjustments, {LINES} lines (one transaction)",
        Minimum(
            LINES + 3,
            f"1 BatchGetItem (the products) + {LINES} Query (each product's records, gsi1, 16 at a time) + "
            f"1 BatchGetItem (locations; lots of the lot-controlled lines could share it) + 1 TransactWriteItems "
            f"({2 * LINES + 1} writes)",
        ),
        lambda: company.send("POST", "/api/inventory/adjustments", {"reasonCode": "DAMAGED", "lines": lines}, True),
    )
    bench.requests(
        "POST /api/inventory/adjust with expectedOnHand",
        Minimum(
            4,
            "1 BatchGetItem (product) + 1 BatchGetItem (location) + 1 Query (its records at the location, gsi1) "
            "+ 1 TransactWriteItems (record, ledger line, document)",
        ),
        lambda: company.send(
            "POST",
            "/api/inventory/adjust",
            {
                "productMasterId": products[1],
                "locationId": location,
                "quantityChange": -1,
                "reasonCode": "DAMAGED",
                "expectedOnHand": 49,
            },
            True,
        ),
    )


def main() -> int:
    log = CallLog()
    bench = Bench(log)
    with app_client(log) as http:
        scenarios(bench, http)
    print("DynamoDB calls per warehouse (001) request (HTTP route handlers via chalice.test.Client,")
    print("moto in-process, tables from infra/resources.json)")
    print()
    print(table(bench.results))
    print()
    print("calls: every DynamoDB round trip of the request. auth + idempotency: the API key lookup and the")
    print("Idempotency-Key record. route: the rest. min: the least the access pattern allows for the route's")
    print("own calls; over: how many more it makes.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
