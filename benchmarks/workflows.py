"""DynamoDB round trips of the 001 workflows (issue 16).

    python -m benchmarks.workflows            # ~2-4 min on a busy machine
    python -m benchmarks.workflows --pairs 2000

- a cycle count of 200 lines: counts recorded, review, and the resolve accepting every line;
- a transfer of 50 lines between locations: create, ship, receive;
- the replenishment schedule over 10,000 configured pairs (100 of them below their reorder point).

HTTP requests go through `chalice.test.Client` against moto in-process (tables from
infra/resources.json), counted with the botocore before-call hook (benchmarks/company_inventory.py's
machinery); the schedule is called as the scheduled function calls it. Seeds are written directly
(not measured). Next to each figure is the least the access pattern allows. Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import uuid
from typing import Any

import benchmarks  # noqa: F401 - sets the AWS safety variables before boto3 is imported
from benchmarks.company_inventory import Bench, CallLog, Minimum, app_client, table

COUNT_LINES = 200
TRANSFER_LINES = 50
BELOW = 100


class Client:
    """A company with every permission, called with `Authorization: Bearer`."""

    def __init__(self, http: Any, name: str) -> None:
        from chalicelib import wiring

        tenant, self.key = wiring.tenant_service().create_tenant(name)
        self.http = http
        self.id = tenant.tenant_id

    def send(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        raw = json.dumps(body).encode() if body is not None else b""
        response = self.http.http.request(method, path, headers=headers, body=raw)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.body[:500]!r}")
        return json.loads(response.body) if response.body else None


def seed_stock(tenant_id: str, location_id: str, count: int, quantity: int) -> list[str]:
    """`count` products, each with `quantity` on hand at the location (written directly, not measured)."""
    from decimal import Decimal

    from chalicelib import wiring
    from chalicelib.core.models import SYSTEM
    from chalicelib.core.stock.lots import Receipt
    from chalicelib.core.stock.slots import Place

    catalog, stock = wiring.catalog_service(), wiring.warehouse_stock()
    products = []
    for i in range(count):
        product = catalog.create_product(tenant_id, {"name": f"Item {i}", "sku": f"I-{i}"}, SYSTEM)
        stock.record_stock(
            tenant_id, Place(product.product_id, location_id), Decimal(quantity), Receipt(None, None), SYSTEM
        )
        products.append(product.product_id)
    return products


def cycle_count(bench: Bench, http: Any) -> None:
    company = Client(http, "Bench counts")
    location = company.send("POST", "/api/locations", {"name": "Counted"})["id"]
    products = seed_stock(company.id, location, COUNT_LINES, 10)
    batch = company.send(
        "POST", "/api/inventory/cycle-count", {"name": "All", "locationId": location, "productMasterIds": products}
    )
    counts = [{"lineId": line["id"], "countedQuantity": 9} for line in batch["lines"]]
    company.send("POST", f"/api/inventory/cycle-count/{batch['id']}", {"counts": counts, "status": "review"})
    documents = math.ceil(COUNT_LINES / 40)
    bench.requests(
        f"POST /api/inventory/cycle-count/resolve, {COUNT_LINES} lines accepted",
        Minimum(
            3 + documents,
            "1 GetItem (the batch) + 1 Query (the location's records, gsi2) + 1 BatchGetItem (products, location) + "
            f"{documents} TransactWriteItems (documents of 40 lines, 81 writes each; the batch can ride in the last). "
            "Built: products and location read per document, the batch saved in a transaction of its own",
        ),
        lambda: company.send(
            "POST",
            "/api/inventory/cycle-count/resolve",
            {"batchId": batch["id"], "lines": [{"lineId": c["lineId"], "action": "accept"} for c in counts]},
        ),
    )


def transfer(bench: Bench, http: Any) -> None:
    company = Client(http, "Bench transfers")
    a = company.send("POST", "/api/locations", {"name": "From"})["id"]
    b = company.send("POST", "/api/locations", {"name": "To"})["id"]
    products = seed_stock(company.id, a, TRANSFER_LINES, 5)
    lines = [{"productMasterId": p, "quantity": 3} for p in products]
    created = bench.requests(
        f"POST /api/inventory/transfers, {TRANSFER_LINES} lines (draft)",
        Minimum(
            4, "2 BatchGetItem (the two locations) + 1 BatchGetItem (products) + 1 TransactWriteItems (the transfer)"
        ),
        lambda: company.send(
            "POST", "/api/inventory/transfers", {"fromLocationId": a, "toLocationId": b, "lines": lines}
        ),
    )[0]
    chunks = math.ceil(TRANSFER_LINES * 4 / 99)
    bench.requests(
        f"POST /api/inventory/transfers/{{id}} ship, {TRANSFER_LINES} lines",
        Minimum(
            2 + 1 + chunks,
            f"1 GetItem (transfer) + 1 BatchGetItem (products) + 1 Query of the source location's records (gsi2) + "
            f"{chunks} TransactWriteItems ({TRANSFER_LINES * 4} writes: record + ledger out, in-transit record + "
            "ledger in, per line; + the transfer in each)",
        ),
        lambda: company.send("POST", f"/api/inventory/transfers/{created['id']}", {"action": "ship"}),
    )
    bench.requests(
        f"POST /api/inventory/transfers/{{id}} receive, {TRANSFER_LINES} lines",
        Minimum(
            2 + 1 + chunks,
            f"1 GetItem (transfer) + 1 BatchGetItem (products) + 1 Query of the destination's records (gsi2) + "
            f"{chunks} TransactWriteItems (out of transit + ledger, destination slot + ledger, per line)",
        ),
        lambda: company.send("POST", f"/api/inventory/transfers/{created['id']}", {"action": "receive"}),
    )


def replenishment(bench: Bench, http: Any, pairs: int) -> None:
    from decimal import Decimal

    from chalicelib.core.models import SYSTEM
    from chalicelib.events import schedules
    from chalicelib.features.replenishment import ReplenishmentConfig
    from chalicelib.settings import get_settings
    from chalicelib.storage import keys
    from chalicelib.storage.codec import record_item
    from chalicelib.storage.dynamo import batch_write

    company = Client(http, "Bench replenishment")
    per_location = 100
    locations = [str(uuid.uuid4()) for _ in range(max(1, pairs // per_location))]
    products = [str(uuid.uuid4()) for _ in range(per_location)]
    requests = []
    n = 0
    for location in locations:
        for product in products:
            below = n < BELOW
            config = ReplenishmentConfig(
                tenant_id=company.id,
                product_id=product,
                location_id=location,
                min_quantity=Decimal(5 if below else 0),
                max_quantity=Decimal(20),
            )
            item = record_item(
                config,
                keys.work_item(company.id, "REPLCONFIG", config.config_id),
                "replenishmentConfig",
                config.config_id,
                SYSTEM,
            )
            requests.append({"PutRequest": {"Item": item}})
            n += 1
    for start in range(0, len(requests), 25):
        batch_write(get_settings().main_table, requests[start : start + 25])
    started = time.perf_counter()
    summary: dict[str, int] = {}

    def run() -> None:
        summary.update(schedules.run_replenishment(company.id))

    bench.requests(
        f"replenishment schedule, {n} configured pairs ({BELOW} below their reorder point)",
        Minimum(
            math.ceil(n * 450 / 1_000_000) + 2 + math.ceil(BELOW * 2 / 100),
            "the configuration partition read in 1 MB Query pages (~450 bytes a pair) + 1 Query of the stock "
            "partition + 1 Query of the records + the new records with their pair guards: 2 writes each, so "
            f"{math.ceil(BELOW * 2 / 100)} TransactWriteItems if batched; built: one per record (a pair whose "
            "guard is taken must not cancel the others)",
        ),
        run,
    )
    print(f"schedule summary: {summary} in {time.perf_counter() - started:.1f} s (moto in-process)")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=10_000)
    args = parser.parse_args()
    log = CallLog()
    bench = Bench(log)
    with app_client(log) as http:
        cycle_count(bench, http)
        transfer(bench, http)
        replenishment(bench, http, args.pairs)
    print("DynamoDB calls of the 001 workflows (HTTP via chalice.test.Client; the schedule called directly;")
    print("moto in-process, tables from infra/resources.json)")
    print()
    print(table(bench.results))
    print()
    print("calls: every DynamoDB round trip. auth + idempotency: the API key lookup and the Idempotency-Key record.")
    print("route: the rest. min: the least the access pattern allows; over: how many more it makes.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
