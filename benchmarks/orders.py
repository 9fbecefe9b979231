"""DynamoDB round trips per company orders request (the 003 surface).

    python -m benchmarks.orders

Real HTTP requests through `chalice.test.Client` to the app's route handlers,
against moto in-process with the tables from infra/resources.json, counted
and charged to auth, idempotency or the route exactly as
benchmarks/company_inventory.py does (its machinery is reused). Next to each
figure is the least the access pattern allows, with the reason.

Nothing here asserts on time; a request that fails stops the run.
"""

from __future__ import annotations

import sys
from typing import Any

import benchmarks  # noqa: F401 - sets the AWS safety variables before boto3 is imported
from benchmarks.company_inventory import Bench, CallLog, Company, Minimum, Refs, app_client, table

LINES = 50
LISTED = 100
HISTORY_LINES = 5
PERMISSIONS = ["inventory.read", "inventory.write", "orders.read", "orders.write"]


def line(refs: Refs, j: int) -> dict[str, Any]:
    return {
        "productName": f"Round bar EN24T {j}",
        "type": refs.types[j % len(refs.types)],
        "material": refs.materials[j % len(refs.materials)],
        "diameter": "50",
        "length": "3000",
        "quantity": "2",
        "weight": "92.5",
        "requiredHeatCode": refs.heat_codes[j % len(refs.heat_codes)],
        "certificationRequired": True,
    }


def order(refs: Refs, reference: str, lines: int) -> dict[str, Any]:
    return {
        "orderReference": reference,
        "orderDate": "2026-11-23",
        "deliveryDate": "2026-12-01",
        "site": "Sheffield",
        "relatedOrganisationId": refs.suppliers[0],
        "lineItems": [line(refs, j) for j in range(lines)],
    }


def create_and_read(bench: Bench, company: Company, refs: Refs) -> dict[str, Any]:
    created = bench.requests(
        f"create 1 order with {LINES} lines, Idempotency-Key",
        Minimum(
            2,
            "1 BatchGetItem holding both the retry check (the ids the key makes) and the customer, types and "
            f"materials + 1 TransactWriteItems (order + {LINES} lines + reference guard)",
        ),
        lambda: company.send("POST", "/orders", [order(refs, "SO-1", LINES)], idempotent=True),
    )[0][0]
    bench.requests(
        f"create 1 order with {LINES} lines, no key",
        Minimum(2, "1 BatchGetItem (customer, types, materials) + 1 TransactWriteItems"),
        lambda: company.send("POST", "/orders", [order(refs, "SO-2", LINES)]),
    )
    path = f"/orders/{created['orderId']}"
    bench.requests(
        f"get 1 order with {LINES} lines",
        Minimum(2, "1 Query (order + lines: one item collection) + 1 BatchGetItem (customer name)"),
        lambda: company.send("GET", path),
    )
    bench.requests(
        f"get order details ({LINES} lines)",
        Minimum(2, "(as get)"),
        lambda: company.send("GET", f"{path}/details"),
    )
    return created


def listing(bench: Bench, company: Company, refs: Refs) -> None:
    for start in range(0, LISTED, 25):
        company.send("POST", "/orders", [order(refs, f"L-{i}", 1) for i in range(start, start + 25)])
    listed = bench.requests(
        f"list orders (page of {LISTED})",
        Minimum(2, "1 Query (gsi1, active orders newest first) + 1 BatchGetItem (customer names)"),
        lambda: company.send("GET", f"/orders?limit={LISTED}"),
    )[0]
    if len(listed) != LISTED:
        raise RuntimeError(f"the list returned {len(listed)} orders, expected {LISTED}")


def stock(company: Company, refs: Refs, count: int) -> list[str]:
    rows = [refs.item(i, f"Bar {i}") for i in range(count)]
    return [row["inventoryId"] for row in company.send("POST", "/inventory", rows)]


def reservations(bench: Bench, company: Company, refs: Refs, created: dict[str, Any]) -> None:
    order_id = created["orderId"]
    first, second = created["lineItems"][0]["lineItemId"], created["lineItems"][1]["lineItemId"]
    split_row, whole_row = stock(company, refs, 2)
    reserve = Minimum(
        3,
        "1 Query (order + lines) + 1 GetItem (inventory row) + 1 TransactWriteItems "
        "(split: source row, new row, 2 ledger lines, reservation)",
    )
    bench.requests(
        "reserve, split=1",
        reserve,
        lambda: company.send(
            "POST", f"/orders/{order_id}/line-items/{first}/reserve?inventoryId={split_row}&reserveQuantity=1&split=1"
        ),
    )
    bench.requests(
        "reserve, split=0 (the whole row)",
        Minimum(3, "1 Query (order + lines) + 1 GetItem (inventory row) + 1 TransactWriteItems (row + reservation)"),
        lambda: company.send(
            "POST", f"/orders/{order_id}/line-items/{second}/reserve?inventoryId={whole_row}&reserveQuantity=4&split=0"
        ),
    )
    bench.requests(
        "unreserve",
        Minimum(
            3,
            "1 Query (order + lines + reservation register) + 1 BatchGetItem (the registered reservations) "
            "+ 1 TransactWriteItems (reservations + rows)",
        ),
        lambda: company.send("DELETE", f"/orders/{order_id}/line-items/{second}/reservations/{whole_row}"),
    )


def history(bench: Bench, company: Company, refs: Refs) -> None:
    """An order with 5 lines, each line changed once: its history (the order's and its lines' events)."""
    made = company.send("POST", "/orders", [order(refs, "H-1", HISTORY_LINES)])[0]
    changes = [{"lineItemId": x["lineItemId"], "quantity": "3"} for x in made["lineItems"]]
    company.send("PUT", "/orders", [{"orderId": made["orderId"], "lineItems": changes}])
    bench.requests(
        f"order history (order with {HISTORY_LINES} lines)",
        Minimum(
            2,
            "1 BatchGetItem (the order's header: it exists) + 1 Query (the order's history partition holds its "
            "lines' events too)",
        ),
        lambda: company.send("GET", f"/orders/{made['orderId']}/history"),
    )


def scenarios(bench: Bench, http: Any) -> None:
    company = Company(http, "Bench orders", PERMISSIONS)
    refs = Refs.make(company)
    created = create_and_read(bench, company, refs)
    reservations(bench, company, refs, created)
    history(bench, company, refs)
    listing(bench, company, refs)


def main() -> int:
    log = CallLog()
    bench = Bench(log)
    with app_client(log) as http:
        scenarios(bench, http)
    print("DynamoDB calls per company orders request (HTTP route handlers via chalice.test.Client,")
    print("moto in-process, tables from infra/resources.json)")
    print()
    print(table(bench.results))
    print()
    print("calls: every DynamoDB round trip of the request. auth + idempotency: calls made by the API key")
    print("lookup and the Idempotency-Key record. route: the rest. min: the least the access pattern allows")
    print("for the route's own calls; over: how many more it makes.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
