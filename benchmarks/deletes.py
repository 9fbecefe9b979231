"""DynamoDB round trips of deleting reserved stock and orders (000 and 003 surfaces).

    python -m benchmarks.deletes

Real HTTP requests through `chalice.test.Client`, against moto in-process,
counted and charged to auth, idempotency or the route as
benchmarks/company_inventory.py does (its machinery is reused). A delete
releases the reservations of what it deletes, in the same transaction; its
cost must not grow with the number of reservations.

Nothing here asserts on time; a request that fails stops the run.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Any

import benchmarks  # noqa: F401 - sets the AWS safety variables before boto3 is imported
from benchmarks.company_inventory import Bench, CallLog, Company, Minimum, Refs, app_client, table
from benchmarks.orders import order, stock

PERMISSIONS = ["inventory.read", "inventory.write", "orders.read", "orders.write"]
ROW_RESERVATIONS = 4
ORDER_LINES = 5


def reserve(company: Company, order_id: str, line_id: str, row: str, quantity: str, split: str) -> None:
    path = f"/orders/{order_id}/line-items/{line_id}/reserve?inventoryId={row}&reserveQuantity={quantity}&split={split}"
    company.send("POST", path)


def delete_row_with_reservations(bench: Bench, company: Company, refs: Refs, count: int) -> None:
    """A row with `count` reservations: reserved through the core (the 003 route reserves a row once)."""
    from chalicelib import wiring
    from chalicelib.core.models import Actor
    from chalicelib.core.stock.service import StockService

    (row,) = stock(company, refs, 1)
    service: StockService = wiring.stock_service()
    actor = Actor(id="bench", name="Bench")
    for n in range(count):
        reference = {"orderId": f"o{n}", "orderReference": f"SO-{n}", "lineItemId": f"l{n}"}
        service.reserve(company.id, row, Decimal("0.5"), actor, reference=reference)
    bench.requests(
        f"delete 1 row with {count} reservations",
        Minimum(2, "1 BatchGetItem (the rows, consistent) + 1 TransactWriteItems (row + its reservations)"),
        lambda: company.send("DELETE", "/inventory", {"ids": [row]}),
    )


def delete_reserved_order(bench: Bench, company: Company, refs: Refs, lines: int) -> None:
    created = company.send("POST", "/orders", [order(refs, "SO-DEL", lines)])[0]
    rows = stock(company, refs, lines)
    for line, row in zip(created["lineItems"], rows, strict=True):
        reserve(company, created["orderId"], line["lineItemId"], row, "1", "1")
    bench.requests(
        f"delete 1 order with {lines} reserved lines",
        Minimum(
            3,
            "1 Query (order + lines + reservation register) + 1 BatchGetItem (the registered reservations, "
            "consistent) + 1 TransactWriteItems (order, lines, guards, reservations, rows)",
        ),
        lambda: company.send("DELETE", "/orders", {"ids": [created["orderId"]]}),
    )


def scenarios(bench: Bench, http: Any) -> None:
    company = Company(http, "Bench deletes", PERMISSIONS)
    refs = Refs.make(company)
    delete_row_with_reservations(bench, company, refs, ROW_RESERVATIONS)
    delete_reserved_order(bench, company, refs, ORDER_LINES)


def main() -> int:
    log = CallLog()
    bench = Bench(log)
    with app_client(log) as http:
        scenarios(bench, http)
    print("DynamoDB calls of deleting reserved stock and orders (HTTP route handlers via chalice.test.Client,")
    print("moto in-process, tables from infra/resources.json)")
    print()
    print(table(bench.results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
