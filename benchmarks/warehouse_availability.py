"""DynamoDB round trips of the 001 channel x location ATP matrix, the channel summary and analytics.

    python -m benchmarks.warehouse_availability

Real HTTP requests through `chalice.test.Client` to the app's route handlers, against moto in-process
with the tables from infra/resources.json, counted with the botocore before-call hook and charged to
auth or the route as benchmarks/company_inventory.py does (its machinery is reused). Next to each
figure is the least the access pattern allows, with the reason.

Seed data (200 products with stock at one location, 5 channels, an availability record per product;
10,000 ledger lines over 100 products for analytics) is written straight through the stores and is
not measured. Nothing here asserts on time; a request that fails stops the run.
"""

from __future__ import annotations

import math
import sys
from datetime import timedelta
from decimal import Decimal
from typing import Any

import benchmarks  # noqa: F401 - sets the AWS safety variables before boto3 is imported
from benchmarks.company_inventory import (
    AUTH,
    QUERY_PAGE_BYTES,
    Bench,
    CallLog,
    Minimum,
    Result,
    app_client,
    batches,
    item_bytes,
    per_request,
    table,
)
from benchmarks.maker import Maker as Company

PRODUCTS = 200
CHANNELS = 5
LEDGER_LINES = 10_000
LEDGER_PRODUCTS = 100
SEED_BATCH = 40
MATRIX = "/api/inventory/channel-location"


def seed_matrix(company: Company) -> tuple[str, int]:
    """200 products stocked at the default location, 5 channels, a record per product; the stock's size."""
    from chalicelib import wiring
    from chalicelib.core.models import SYSTEM, Product, StockRecord
    from chalicelib.features.availability.model import Allocation, Channel, ChannelRule, Mode
    from chalicelib.settings import get_settings
    from chalicelib.storage.availability_repo import DynamoAvailabilityStore
    from chalicelib.storage.catalog_repo import DynamoCatalogStore
    from chalicelib.storage.stock_repo import DynamoStockStore

    table_name = get_settings().main_table
    catalog, stock = DynamoCatalogStore(table_name), DynamoStockStore(table_name)
    availability = DynamoAvailabilityStore(table_name)
    location_id = wiring.catalog_service().default_location(company.id, SYSTEM).location_id
    channels = [Channel(tenant_id=company.id, code=f"CH{i}", name=f"Channel {i}") for i in range(CHANNELS)]
    for channel in channels:
        availability.create_channel(channel, SYSTEM)
    modes = [(Mode.ALL, None), (Mode.PERCENT, Decimal(40)), (Mode.FIXED, Decimal(3))]
    size = 0
    for start in range(0, PRODUCTS, SEED_BATCH):
        products = [
            Product(tenant_id=company.id, name=f"Shelf {i:03d}", sku=f"SH-{i:03d}")
            for i in range(start, min(start + SEED_BATCH, PRODUCTS))
        ]
        catalog.create_products(products, SYSTEM)
        records = [
            StockRecord(
                tenant_id=company.id,
                product_id=p.product_id,
                location_id=location_id,
                on_hand=Decimal(10),
                available=Decimal(10),
            )
            for p in products
        ]
        stock.create_records([(r, None) for r in records], SYSTEM)
        size += sum(item_bytes(stock.create_items(r, None, SYSTEM)[0]["Put"]["Item"]) for r in records)
        for i, product in enumerate(products):
            rules = [
                ChannelRule(channel_id=c.channel_id, mode=modes[(i + j) % 3][0], value=modes[(i + j) % 3][1])
                for j, c in enumerate(channels)
            ]
            allocation = Allocation(
                tenant_id=company.id, product_id=product.product_id, location_id=location_id, channels=rules
            )
            availability.put_allocation(allocation, SYSTEM, None)
    return location_id, size


def seed_ledger(company: Company) -> int:
    """10,000 ledger lines over 100 products (receipts, shipments, adjustments) in the last 30 days; their size."""
    from chalicelib.core.ids import utcnow
    from chalicelib.core.models import SYSTEM, Movement, MovementKind, Product
    from chalicelib.settings import get_settings
    from chalicelib.storage.catalog_repo import DynamoCatalogStore
    from chalicelib.storage.dynamo import batch_write
    from chalicelib.storage.stock_repo import DynamoStockStore

    table_name = get_settings().main_table
    catalog, stock = DynamoCatalogStore(table_name), DynamoStockStore(table_name)
    products = [
        Product(tenant_id=company.id, name=f"Item {i:03d}", unit_price=Decimal("2.5")) for i in range(LEDGER_PRODUCTS)
    ]
    for start in range(0, LEDGER_PRODUCTS, SEED_BATCH):
        catalog.create_products(products[start : start + SEED_BATCH], SYSTEM)
    kinds = [
        (MovementKind.RECEIPT, 5, None),
        (MovementKind.SHIPMENT, -3, None),
        (MovementKind.ADJUSTMENT, -1, "DAMAGED"),
    ]
    now = utcnow()
    items = []
    for n in range(LEDGER_LINES):
        product = products[n % LEDGER_PRODUCTS]
        kind, quantity, reason = kinds[(n // LEDGER_PRODUCTS) % 3]
        movement = Movement(
            tenant_id=company.id,
            stock_id=f"stock-{product.product_id}",
            product_id=product.product_id,
            location_id="loc-1",
            kind=kind,
            quantity=Decimal(quantity),
            reason=reason,
            actor=SYSTEM,
            occurred_at=now - timedelta(days=29) + timedelta(seconds=n * 200),
            unit_price=Decimal(2) if quantity > 0 else None,
        )
        items.append(_movement_item(stock, movement))
    batch_write(table_name, [{"PutRequest": {"Item": item}} for item in items])
    return sum(item_bytes(item) for item in items)


def _movement_item(stock: Any, movement: Any) -> dict[str, Any]:
    """The ledger line exactly as every stock write stores it (the record's ledger + the gsi1 time index)."""
    item: dict[str, Any] = stock._movement_item(movement)
    return item


def scenarios(bench: Bench, http: Any) -> tuple[int, int]:
    shop = Company(http, "Bench channels")
    location_id, stock_size = seed_matrix(shop)
    stock_pages = max(1, math.ceil(stock_size / QUERY_PAGE_BYTES))
    for limit in (PRODUCTS, 50):
        rows = bench.requests(
            f"channel-location matrix, {PRODUCTS} products x {CHANNELS} channels, page of {limit}",
            Minimum(
                stock_pages + batches(PRODUCTS + 1) + 1 + batches(limit),
                f"{stock_pages} Query (the location's stock, gsi2) + {batches(PRODUCTS + 1)} BatchGetItem "
                f"({PRODUCTS} products, for name search and order, + the location) + 1 Query (channels) + "
                f"{batches(limit)} BatchGetItem (the page's {limit} availability records)",
            ),
            lambda limit=limit: shop.send(
                "GET", f"/api/inventory/channel-location?locationId={location_id}&limit={limit}"
            ),
        )[0]
        if len(rows["data"]) != limit or len(rows["data"][0]["channels"]) != CHANNELS:
            raise RuntimeError(f"the matrix held {len(rows['data'])} rows")
    bench.requests(
        f"channel summary, {PRODUCTS} products x {CHANNELS} channels",
        Minimum(3, "1 Query (channels) + 1 Query (availability records) + 1 Query (stock records, one 1 MB page)"),
        lambda: shop.send("GET", "/api/inventory/channel/summary"),
    )

    ledger = Company(http, "Bench analytics")
    ledger_size = seed_ledger(ledger)
    ledger_pages = math.ceil(ledger_size / QUERY_PAGE_BYTES)
    figures = bench.requests(
        f"analytics over {LEDGER_LINES:,} ledger lines ({LEDGER_PRODUCTS} products)",
        Minimum(
            ledger_pages + batches(LEDGER_PRODUCTS),
            f"{ledger_pages} Query (the ledger's time index, gsi1, {ledger_size / 1024:,.0f} KB in 1 MB pages) + "
            f"{batches(LEDGER_PRODUCTS)} BatchGetItem (the {LEDGER_PRODUCTS} products)",
        ),
        lambda: ledger.send("GET", "/api/inventory/analytics"),
    )[0]
    if figures["movements"] != LEDGER_LINES:
        raise RuntimeError(f"analytics counted {figures['movements']} lines")
    return stock_size, ledger_size


def auth_row(results: list[Result]) -> Result:
    first = per_request(results[0])[0]
    return Result(
        "auth: API key lookup (every request)", 1, [c for c in first if c.phase == AUTH], Minimum(1, "1 GetItem")
    )


def main() -> int:
    log = CallLog()
    bench = Bench(log)
    with app_client(log) as http:
        stock_size, ledger_size = scenarios(bench, http)
    print("DynamoDB calls per 001 availability / analytics request (HTTP route handlers via chalice.test.Client,")
    print("moto in-process, tables from infra/resources.json)")
    print()
    print(table([*bench.results, auth_row(bench.results)]))
    print()
    print(f"Stored size: the location's {PRODUCTS} stock records ~{stock_size / 1024:,.0f} KB; the {LEDGER_LINES:,}")
    print(f"ledger lines ~{ledger_size / 1024:,.0f} KB. A Query page stops at 1 MB of items read (DynamoDB and moto),")
    print("so the ledger read grows by one call per MB of ledger up to the period's end; the products by one per 100.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
