"""DynamoDB round trips per maker request (the 002 surface).

    python -m benchmarks.maker

Real HTTP requests through `chalice.test.Client` to the app's route handlers, against moto
in-process with the tables from infra/resources.json, counted with the botocore before-call hook
and charged to auth, idempotency or the route exactly as benchmarks/company_inventory.py does (its
machinery is reused). Next to each figure is the least the access pattern allows, with the reason.

The seed data (1,000 products with stock, materials) is written straight through the stores in
transactions of 50 and is not measured. Nothing here asserts on time; a request that fails stops
the run.
"""

from __future__ import annotations

import json
import sys
import uuid
from decimal import Decimal
from typing import Any

import benchmarks  # noqa: F401 - sets the AWS safety variables before boto3 is imported
from benchmarks.company_inventory import AUTH, Bench, CallLog, Minimum, Result, app_client, per_request, table

PRODUCTS = 1000
POOL = 10  # materials shared by the listed products' bills of materials
BOM = 20  # materials of the product measured alone and of its batch
SEED_BATCH = 33  # a product with a SKU is 3 writes (item, SKU guard, numeric-id guard); + the counter
PERMISSIONS = ["admin", "inventory.read", "inventory.write", "inventory.adjust", "products.read", "products.write"]
PERMISSIONS += ["tasks.read", "tasks.write"]


class Maker:
    """A company called on /api with the documented X-Inventora-API-Key header."""

    def __init__(self, http: Any, name: str) -> None:
        from chalicelib import wiring

        tenant, self.key = wiring.tenant_service().create_tenant(name, PERMISSIONS)
        self.http = http
        self.id = tenant.tenant_id

    def send(self, method: str, path: str, body: Any = None, idempotent: bool = False) -> Any:
        headers = {"X-Inventora-API-Key": self.key, "Content-Type": "application/json"}
        if idempotent:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        raw = json.dumps(body).encode() if body is not None else b""
        response = self.http.http.request(method, path, headers=headers, body=raw)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.body[:500]!r}")
        return json.loads(response.body) if response.body else None


def seed(maker: Maker, count: int, materials: list[str], location_id: str) -> None:
    """`count` products, each with 2 materials of the pool and a stock record holding 5 (not measured)."""
    from chalicelib.core.models import SYSTEM, BomLine, Product, StockRecord
    from chalicelib.core.stock.levels import location_stock_id
    from chalicelib.settings import get_settings
    from chalicelib.storage.catalog_repo import DynamoCatalogStore
    from chalicelib.storage.stock_repo import DynamoStockStore

    table = get_settings().main_table
    catalog, stock = DynamoCatalogStore(table), DynamoStockStore(table)
    for start in range(0, count, SEED_BATCH):
        products = [
            Product(
                tenant_id=maker.id,
                name=f"Candle {i}",
                sku=f"C-{i}",
                unit_price=Decimal("5.5"),
                materials=[
                    BomLine(product_id=materials[i % len(materials)], quantity_used=Decimal("0.25")),
                    BomLine(product_id=materials[(i + 1) % len(materials)], quantity_used=Decimal(1)),
                ],
            )
            for i in range(start, min(start + SEED_BATCH, count))
        ]
        catalog.create_products(products, SYSTEM)
        records = [
            (
                StockRecord(
                    tenant_id=maker.id,
                    stock_id=location_stock_id(maker.id, p.product_id, location_id),
                    product_id=p.product_id,
                    location_id=location_id,
                    name=p.name,
                    on_hand=Decimal(5),
                    available=Decimal(5),
                ),
                None,
            )
            for p in products
        ]
        stock.create_records(records, SYSTEM)


def listing(bench: Bench, maker: Maker, materials: list[str], location_id: str) -> None:
    seed(maker, PRODUCTS, materials, location_id)
    for size in (100, 1000):
        minimum = Minimum(
            3 + size + POOL,
            f"1 Query (page + its count, gsi3) + 1 BatchGetItem ({POOL} BOM materials) + {size + POOL} Query "
            "(stock records of each product and material, gsi1, run 16 at a time) + 1 BatchGetItem (location names)",
        )
        listed = bench.requests(
            f"list products, page of {size} (of {PRODUCTS})",
            minimum,
            lambda size=size: maker.send("GET", f"/api/products?limit={size}"),
        )[0]
        if len(listed["data"]) != size or listed["pagination"]["totalCount"] != PRODUCTS:
            raise RuntimeError(f"the page held {len(listed['data'])} of {listed['pagination']['totalCount']}")
    bench.requests(
        f"list products, page of 100 at offset {PRODUCTS - 100}",
        Minimum(
            4 + 100 + POOL,
            f"as a first page + 1 Query walking past {PRODUCTS - 100} entries (keys only)",
        ),
        lambda: maker.send("GET", f"/api/products?limit=100&offset={PRODUCTS - 100}"),
    )


def one_product(bench: Bench, maker: Maker, location: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    materials = [
        maker.send(
            "POST",
            "/api/materials",
            {"name": f"Material {i}", "initialStock": {"locationName": location, "quantity": 100}},
        )
        for i in range(BOM)
    ]
    body = {"name": "Big candle", "materials": [{"id": m["id"], "quantityUsed": 1} for m in materials]}
    created = bench.requests(
        f"create a product with {BOM} materials",
        Minimum(
            1 + 1 + BOM + 1 + 1,
            f"1 BatchGetItem (the {BOM} materials, checked and shown) + 1 TransactWriteItems (product + counter) + "
            f"the answer: {BOM + 1} Query (stock of each, gsi1) + 1 BatchGetItem (location names)",
        ),
        lambda: maker.send("POST", "/api/products", body),
    )[0]
    bench.requests(
        f"get a product with {BOM} materials",
        Minimum(
            3 + BOM + 1,
            f"1 GetItem (product) + 1 BatchGetItem ({BOM} materials) + {BOM + 1} Query (stock of each, gsi1) "
            "+ 1 BatchGetItem (location names)",
        ),
        lambda: maker.send("GET", f"/api/products/{created['id']}"),
    )
    return created, materials


def production(bench: Bench, maker: Maker, product: dict[str, Any], location_id: str) -> None:
    task = maker.send(
        "POST",
        "/api/tasks",
        {"name": "Big candles", "LocationId": location_id, "Items": [{"ProductId": product["id"], "quantity": 10}]},
    )
    batch = bench.requests(
        f"one production batch, {BOM} materials (one transaction)",
        Minimum(
            5 + BOM + 1,
            f"1 GetItem (task) + 1 UpdateItem (batch id) + 1 GetItem (product) + 1 BatchGetItem ({BOM} materials) + "
            f"{BOM + 1} Query (stock at the location, gsi1) + 1 TransactWriteItems ({2 + 2 * BOM + 3} writes)",
        ),
        lambda: maker.send("POST", f"/api/tasks/{task['id']}/items/1/batches", {"quantity": 2}),
    )[0]
    bench.requests(
        f"delete that batch ({BOM} materials given back, one transaction)",
        Minimum(
            4,
            "1 GetItem (batch) + 1 GetItem (task) + 1 BatchGetItem (the records it wrote) + 1 TransactWriteItems",
        ),
        lambda: maker.send("DELETE", f"/api/task-batches/{batch['id']}"),
    )
    bench.requests(
        "stock-level update (restock), no Idempotency-Key",
        Minimum(
            4 + 1 + BOM + 1 + 1,
            "1 GetItem (resource) + 1 GetItem (location name guard) + 1 Query (its records) + 1 UpdateItem or "
            f"TransactWriteItems + the answer, with its {BOM} materials: 1 BatchGetItem + {BOM + 1} Query "
            "+ 1 BatchGetItem (location names)",
        ),
        lambda: maker.send(
            "POST",
            f"/api/products/{product['id']}/stock-level-updates",
            {"quantity": 3, "locationName": "Workshop", "updateType": "restock"},
        ),
    )


def scenarios(bench: Bench, http: Any) -> None:
    small = Maker(http, "Bench maker")
    workshop = small.send("POST", "/api/locations", {"name": "Workshop"})
    product, _ = one_product(bench, small, "Workshop")
    production(bench, small, product, workshop["id"])

    big = Maker(http, "Bench catalogue")
    place = big.send("POST", "/api/locations", {"name": "Warehouse"})
    materials = [
        big.send(
            "POST",
            "/api/materials",
            {"name": f"Pool {i}", "initialStock": {"locationName": "Warehouse", "quantity": 9}},
        )["id"]
        for i in range(POOL)
    ]
    listing(bench, big, materials, place["id"])


def auth_row(results: list[Result]) -> Result:
    first = per_request(results[0])[0]
    return Result(
        "auth: API key lookup (every request)",
        1,
        [c for c in first if c.phase == AUTH],
        Minimum(1, "1 GetItem of the key by its id"),
    )


def main() -> int:
    log = CallLog()
    bench = Bench(log)
    with app_client(log) as http:
        scenarios(bench, http)
    print("DynamoDB calls per maker (002) request (HTTP route handlers via chalice.test.Client,")
    print("moto in-process, tables from infra/resources.json)")
    print()
    print(table([*bench.results, auth_row(bench.results)]))
    print()
    print("calls: every DynamoDB round trip of the request. auth + idempotency: the API key lookup and the")
    print("Idempotency-Key record. route: the rest. min: the least the access pattern allows for the route's")
    print("own calls; over: how many more it makes. Stock per product is one gsi1 Query per product (its records,")
    print("whichever API wrote them); the route runs 16 at a time, so a page of 1,000 costs 1,000 round trips")
    print("but about 63 round-trip times.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
