"""DynamoDB round trips per multi-source (004) request: a bulk upsert of 1,000 records, a search page,
an aggregated product read.

    python -m benchmarks.multisource

Real HTTP requests through `chalice.test.Client` to the app's route handlers, against moto in-process
with the tables from infra/resources.json, counted with the botocore before-call hook and charged to
auth, idempotency or the route as benchmarks/company_inventory.py does (its machinery is reused).
Next to each figure is the least the access pattern allows, with the reason. The 1,000 products are
written straight through the catalog store (not measured). Nothing here asserts on time.
"""

from __future__ import annotations

import sys
from typing import Any

import benchmarks  # noqa: F401 - sets the AWS safety variables before boto3 is imported
from benchmarks.company_inventory import Bench, CallLog, Minimum, app_client, batches, table
from benchmarks.maker import Maker, auth_row

RECORDS = 1000
SEED_BATCH = 30  # a product with a SKU is 3 writes (item, SKU guard, number guard); + the counter


def seed(maker: Maker, count: int) -> None:
    from chalicelib.core.models import SYSTEM, Product
    from chalicelib.settings import get_settings
    from chalicelib.storage.catalog_repo import DynamoCatalogStore

    catalog = DynamoCatalogStore(get_settings().main_table)
    for start in range(0, count, SEED_BATCH):
        products = [
            Product(tenant_id=maker.id, name=f"Widget {i}", sku=f"W-{i}")
            for i in range(start, min(start + SEED_BATCH, count))
        ]
        catalog.create_products(products, SYSTEM)


def scenarios(bench: Bench, http: Any) -> None:
    shop = Maker(http, "Bench widgets")
    seed(shop, RECORDS)
    back = shop.send("POST", "/api/locations", {"name": "Back room"})
    records = [{"sku": f"W-{i}", "quantity": i % 7 + 1, "location": f"A-{i % 40}"} for i in range(RECORDS)]
    reads = batches(RECORDS)
    creates = bench.requests(
        f"bulk upsert {RECORDS} new local records (lookup sku)",
        Minimum(
            3 * reads + 1 + RECORDS * 4 // 100,
            f"{reads} BatchGetItem (SKU guards) + {reads} BatchGetItem (products: active, name) + {reads} "
            "BatchGetItem (uniqueness-key guards) + 1 UpdateItem (record ids) + "
            f"{RECORDS * 4 // 100} TransactWriteItems ({RECORDS} x record, count movement, key guard, id guard)",
        ),
        lambda: shop.send("POST", "/v2/inventory/bulk/sku/local", records, idempotent=True),
    )[0]
    if creates["created"] != RECORDS:
        raise RuntimeError(f"created {creates['created']} of {RECORDS}")
    changed = [{**r, "quantity": r["quantity"] + 1} for r in records]
    updates = bench.requests(
        f"bulk upsert {RECORDS} existing local records (new quantities)",
        Minimum(
            4 * reads + RECORDS * 2 // 100,
            f"{reads} BatchGetItem (SKU guards) + {reads} BatchGetItem (products) + {reads} BatchGetItem "
            f"(uniqueness-key guards) + {reads} BatchGetItem (the records) + {RECORDS * 2 // 100} "
            "TransactWriteItems (record update + count movement each)",
        ),
        lambda: shop.send("POST", "/v2/inventory/bulk/sku/local", changed, idempotent=True),
    )[0]
    if updates["updated"] != RECORDS:
        raise RuntimeError(f"updated {updates['updated']} of {RECORDS}")
    page = bench.requests(
        f"search: local records, page 2 of 100 by quantity (of {RECORDS})",
        Minimum(
            3,
            "2 Query pages (gsi3 local partition, 1 MB each: every match, for totalCount and the sort) + "
            "1 BatchGetItem (the page's 100 products; all in the default warehouse, so no location read)",
        ),
        lambda: shop.send(
            "POST",
            "/v2/inventory/search",
            {"filter": {"inventoryType": "local"}, "sort": [{"field": "quantity"}], "page": 2, "pageSize": 100},
        ),
    )[0]
    if page["pagination"]["totalCount"] != RECORDS or len(page["data"]) != 100:
        raise RuntimeError(f"search answered {page['pagination']}")
    shop.send(
        "POST",
        "/v2/inventory/bulk/sku/local",
        [{"sku": "W-1", "quantity": 3, "warehouseId": back["warehouseId"]}],
    )
    shop.send("POST", "/v2/inventory/bulk/sku/supplier", [{"sku": "W-1", "quantity": 50, "supplier": "Acme"}])
    bench.requests(
        "aggregated product inventory (3 records: 2 local in 2 warehouses, 1 supplier)",
        Minimum(
            4,
            "1 BatchGetItem (SKU guard) + 1 BatchGetItem (product) + 1 Query (its records, gsi1) + 1 BatchGetItem "
            "(warehouse numbers)",
        ),
        lambda: shop.send("GET", "/v2/products/sku/W-1/inventory"),
    )


def main() -> int:
    log = CallLog()
    bench = Bench(log)
    with app_client(log) as http:
        scenarios(bench, http)
    print("DynamoDB calls per multi-source (004) request (HTTP route handlers via chalice.test.Client,")
    print("moto in-process, tables from infra/resources.json)")
    print()
    print(table([*bench.results, auth_row(bench.results)]))
    print()
    print("calls: every DynamoDB round trip of the request. auth + idempotency: the API key lookup and the")
    print("Idempotency-Key record. route: the rest. min: the least the access pattern allows for the route's")
    print("own calls; over: how many more it makes.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
