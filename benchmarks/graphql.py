"""DynamoDB calls of GraphQL queries for many products with their inventory (the 004 GraphQL surface).

    python -m benchmarks.graphql

Sends real HTTP requests through `chalice.test.Client` to `POST /graphql`, against moto in-process
with the tables built from infra/resources.json, and prints how many DynamoDB calls each query
made (counted with the botocore before-call hook, chalicelib.storage.aws.on_call), split into the
API key lookup and the query itself, next to the least the access pattern allows.

The figure to watch: 100 products cost the same calls as 1, and 100 aliased `productInventory`
root fields the same as 1: every product read of one execution tick goes to the v2 service's
batched read through a per-request DataLoader, and the products' records are read by their keys
(the product's stock keys item, then the records: BatchGetItem each), never one Query per
product. Nothing here asserts on time.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import benchmarks  # noqa: F401 - sets the AWS safety variables before boto3 is imported
from benchmarks.company_inventory import AUTH, CallLog, app_client, summarise

PRODUCTS = 100
RECORDS_PER_PRODUCT = 2
ENTITIES = """query($r: [_Any!]!) { _entities(representations: $r) {
  ... on Product { id sku totalQuantity localQuantity supplierQuantity reservedQuantity availableQuantity
                   records { id quantity supplier warehouseId } } } }"""


def aliases(count: int) -> str:
    fields = (
        f'p{i}: productInventory(lookupKey: "sku", key: "BENCH-{i}") {{ totalQuantity records {{ id }} }}'
        for i in range(count)
    )
    return "{ " + " ".join(fields) + " }"


SEARCH = """query($ids: [Int!]) { searchInventory(filter: {productIds: $ids}, pageSize: 500) {
  data { id quantity product { id totalQuantity } } pagination { totalCount } } }"""


def gql(http: Any, key: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    response = http.http.request("POST", "/graphql", headers=headers, body=body)
    answer = json.loads(response.body)
    if response.status_code != 200 or answer.get("errors"):
        raise RuntimeError(f"GraphQL answered {response.status_code}: {str(answer)[:500]}")
    return answer["data"]


def main() -> int:
    from chalicelib import wiring
    from chalicelib.core.models import SYSTEM

    log = CallLog()
    rows: list[tuple[str, list[Any], str]] = []
    with app_client(log) as http:
        tenant, key = wiring.tenant_service().create_tenant("GraphQL bench", ["inventory.read", "inventory.write"])
        service = wiring.multisource_service()
        numbers = [
            service.create_product(tenant.tenant_id, f"BENCH-{i}", f"Bench {i}", {}, SYSTEM).productId
            for i in range(PRODUCTS)
        ]
        records = [
            {"sku": f"BENCH-{i}", "quantity": 3, **({"supplier": f"Vendor {n}"} if n else {})}
            for i in range(PRODUCTS)
            for n in range(RECORDS_PER_PRODUCT)
        ]
        local = [r for r in records if "supplier" not in r]
        supplier = [r for r in records if "supplier" in r]
        bulk = (
            "mutation($records: [InventoryRecordInput!]!, $type: String!) "
            '{ bulkUpsertInventory(lookupKey: "sku", inventoryType: $type, records: $records) { failed } }'
        )
        for batch, kind in ((local, "local"), (supplier, "supplier")):
            assert gql(http, key, bulk, {"records": batch, "type": kind})["bulkUpsertInventory"]["failed"] == 0

        for count in (1, 10, PRODUCTS):
            representations = [{"__typename": "Product", "id": n} for n in numbers[:count]]
            with log.measure() as calls:
                found = gql(http, key, ENTITIES, {"r": representations})["_entities"]
            assert len(found) == count and all(len(p["records"]) == RECORDS_PER_PRODUCT for p in found)
            rows.append((f"_entities: {count} Product(s) with inventory and records", list(calls), minimum(count)))
        for count in (1, PRODUCTS):
            with log.measure() as calls:
                found = gql(http, key, aliases(count))
            assert all(len(found[f"p{i}"]["records"]) == RECORDS_PER_PRODUCT for i in range(count))
            rows.append(
                (
                    f"{count} aliased productInventory(sku) root field(s)",
                    list(calls),
                    f"{least(count, RECORDS_PER_PRODUCT)}: API key GetItem + SKU guards, products, their stock keys "
                    "and records: one BatchGetItem each per 100 (one DataLoader batch for every alias)",
                )
            )
        with log.measure() as calls:
            page = gql(http, key, SEARCH, {"ids": numbers})["searchInventory"]
        assert page["pagination"]["totalCount"] == PRODUCTS * RECORDS_PER_PRODUCT
        rows.append(
            (
                f"searchInventory: {PRODUCTS} productIds, each record's product",
                list(calls),
                f"{PRODUCTS + 3}: API key + the search's {PRODUCTS} records Queries (one gsi1 Query per product, "
                "the search's driving index) + guards and products BatchGetItems, if the products' aggregates "
                "reused the search's records; today `Inventory.product` reads them again by their keys "
                "(+2 BatchGetItems, one batched load for the whole page)",
            )
        )
    print(report(rows))
    return 0


def least(products: int, records_each: int) -> int:
    """API key GetItem + guards + products + stock keys + records, each a BatchGetItem of at most 100 keys."""
    batches = -(-products // 100)
    return 1 + 3 * batches + -(-(products * records_each) // 100)


def minimum(products: int) -> str:
    return (
        f"{least(products, RECORDS_PER_PRODUCT)}: API key GetItem + productId guards, products, their stock keys "
        "(`T#t#PRODUCTSTOCK/<id>`) and records: one BatchGetItem each per 100 keys"
    )


def report(rows: list[tuple[str, list[Any], str]]) -> str:
    lines = ["| query | DynamoDB calls (auth + query) | calls | least the access pattern allows |", "|---|---|---|---|"]
    for name, calls, least in rows:
        auth = [c.operation for c in calls if c.phase == AUTH]
        own = [c.operation for c in calls if c.phase != AUTH]
        lines.append(f"| {name} | {len(auth)} + {len(own)} | {summarise(auth + own)} | {least} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
