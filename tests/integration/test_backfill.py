"""The `backfill` job on moto: data written before numbering and the newer index entries (products and
locations without numbers, stock records without their gsi3 STOCKTYPE entry, ledger lines without their
gsi2 BYTIME entry) is seen by the v2 routes, the v2 search by warehouse and type and an asOf read once
the job ran; a second run writes nothing; a run cut into bounded invocations resumes from its cursor."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import quote

import pytest
from chalice.test import Client

from chalicelib.core.backfill import run_backfill
from chalicelib.core.ids import utcnow
from chalicelib.core.tenancy.permissions import ALL_PERMISSIONS
from chalicelib.settings import get_settings
from chalicelib.storage import keys
from chalicelib.storage.aws import client, on_call
from chalicelib.storage.backfill_repo import JOB, DynamoBackfillStore
from chalicelib.storage.codec import to_attrs
from tests.integration.company import Company
from tests.integration.gql_client import gql
from tests.integration.maker import Maker, make_maker

pytestmark = pytest.mark.shared_aws

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


@pytest.fixture
def shop(http: Client) -> Maker:
    return make_maker(http, "Old Shop", tuple(sorted(ALL_PERMISSIONS)))


def _partition(pk: str, index: str | None = None) -> list[dict[str, Any]]:
    ddb, table = client("dynamodb"), get_settings().main_table
    params: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": f"{index + 'pk' if index else 'pk'} = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
    }
    if index:
        params["IndexName"] = index
    return list(ddb.query(**params)["Items"])


def _remove(item: dict[str, Any], *attributes: str) -> None:
    names = {f"#a{i}": name for i, name in enumerate(attributes)}
    client("dynamodb").update_item(
        TableName=get_settings().main_table,
        Key={"pk": item["pk"], "sk": item["sk"]},
        UpdateExpression="REMOVE " + ", ".join(names),
        ExpressionAttributeNames=names,
    )


def make_old_shaped(t: str) -> None:
    """Take from the company's items what data written before the 004 and events work lacks: the
    numbers of products, locations and records (and their guards), the records' gsi3 STOCKTYPE entries,
    the ledger lines' gsi2 BYTIME entries and the products' stock keys."""
    for pk in (keys.products_partition(t), keys.locations_partition(t), keys.stocks_partition(t)):
        for item in _partition(pk):
            _remove(item, "number", "gsi3pk", "gsi3sk") if pk == keys.stocks_partition(t) else _remove(item, "number")
    for item in _partition(keys.ledger_by_time_partition(t), "gsi1"):
        _remove(item, "gsi2pk", "gsi2sk")
    ddb = client("dynamodb")
    # Records written before the product stock keys existed are in no product's keys.
    for item in _partition(keys.product_stock(t, "")["pk"]):
        ddb.delete_item(TableName=get_settings().main_table, Key={"pk": item["pk"], "sk": item["sk"]})
    for guard in _partition(keys.unique(t, "", "")["pk"]):
        if guard["sk"]["S"].split("#")[0] in ("PRODUCTNO", "LOCATIONNO", "STOCKNO"):
            ddb.delete_item(TableName=get_settings().main_table, Key={"pk": guard["pk"], "sk": guard["sk"]})


def search(shop: Maker, **filters: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = shop.ok("POST", "/v2/inventory/search", {"filter": filters})["data"]
    return found


@contextmanager
def writes() -> Iterator[list[str]]:
    seen: list[str] = []
    stop = on_call(lambda service, operation: seen.append(operation) if operation in WRITES else None)
    try:
        yield seen
    finally:
        stop()


def product_inventory(shop: Maker, sku: str) -> Any:
    """GraphQL productInventory: the batched read of many products (`records_for_products`)."""
    query = (
        'query($sku: String!) { productInventory(lookupKey: "sku", key: $sku) { totalQuantity records { quantity } } }'
    )
    return gql(Company(shop.http, shop.id, shop.key), query, {"sku": sku}).ok()["productInventory"]


def old_company(shop: Maker) -> tuple[str, datetime]:
    """A product with local stock in a named location and supplier stock, made old-shaped; the moment after
    its stock was written."""
    shop.ok("POST", "/v2/products", {"sku": "OLD-1", "name": "Old widget", "sourceIds": {}}, 201)
    back = shop.location("Back room")
    shop.ok(
        "POST", "/v2/inventory/bulk/sku/local", [{"sku": "OLD-1", "quantity": 5, "warehouseId": back["warehouseId"]}]
    )
    shop.ok("POST", "/v2/inventory/bulk/sku/supplier", [{"sku": "OLD-1", "quantity": 7, "supplier": "Acme"}])
    moment = utcnow()
    make_old_shaped(shop.id)
    return back["id"], moment


def test_old_data_is_numbered_and_indexed_and_the_v2_reads_see_it(shop: Maker) -> None:
    # Given a company's data as written before numbering and the newer indexes
    back_id, moment = old_company(shop)
    assert shop.ok("GET", "/v2/products/sku/OLD-1").get("productId") is None
    assert search(shop, inventoryType="supplier") == []
    # (the batched read of many products, GraphQL's, knows no record of it)
    assert product_inventory(shop, "OLD-1") == {"totalQuantity": 0, "records": []}

    # When an operator runs the backfill
    summary = shop.ok("POST", "/jobs/backfill/run")

    # Then it numbered the product and both locations (the default as 0), indexed both records and their lines
    assert summary["job"] == "backfill" and summary["done"] is True, summary
    assert (summary["productsNumbered"], summary["locationsNumbered"]) == (1, 2)
    assert (summary["recordsIndexed"], summary["movementsIndexed"]) == (2, 2)
    assert summary["recordsKeyed"] == 2
    product_id = shop.ok("GET", "/v2/products/sku/OLD-1")["productId"]
    assert isinstance(product_id, int) and product_id > 0
    back = next(loc for loc in shop.ok("GET", "/api/locations")["data"] if loc["id"] == back_id)
    assert isinstance(back["warehouseId"], int) and back["warehouseId"] > 0
    assert shop.default_location()["warehouseId"] == 0

    # And the v2 routes, the search by warehouse and by type, and an asOf read see it
    inventory = shop.ok("GET", f"/v2/products/id/{product_id}/inventory")
    assert (inventory["localQuantity"], inventory["supplierQuantity"]) == (5, 7)
    scoped = shop.ok("GET", f"/v2/products/id/{product_id}/inventory/warehouses/{back['warehouseId']}")
    assert scoped["localQuantity"] == 5
    in_back = search(shop, warehouseIds=[back["warehouseId"]])
    assert [(r["productId"], r["quantity"], r["warehouseId"]) for r in in_back] == [
        (product_id, 5, back["warehouseId"])
    ]
    assert [r["quantity"] for r in search(shop, inventoryType="supplier")] == [7]
    assert [r["quantity"] for r in search(shop, inventoryType="local")] == [5]
    as_of = quote(moment.isoformat().replace("+00:00", "Z"))
    then = shop.ok("GET", f"/v2/products/id/{product_id}/inventory?asOf={as_of}")
    assert then["localQuantity"] == 5
    # And the batched read of many products (GraphQL productInventory: stock keys then records) finds both
    batched = product_inventory(shop, "OLD-1")
    assert batched["totalQuantity"] == 12
    assert sorted(r["quantity"] for r in batched["records"]) == [5, 7]

    # And a second run changes nothing and writes nothing
    with writes() as written:
        again = shop.ok("POST", "/jobs/backfill/run")
    assert again["done"] is True
    counts = ("productsNumbered", "locationsNumbered", "recordsIndexed", "movementsIndexed", "recordsKeyed")
    assert [again[k] for k in counts] == [0] * 5
    assert written == []
    assert shop.ok("GET", "/v2/products/sku/OLD-1")["productId"] == product_id


def test_a_run_in_bounded_invocations_resumes_from_its_cursor(shop: Maker) -> None:
    # Given old data of several items per pass
    for sku in ("R-1", "R-2", "R-3"):
        shop.ok("POST", "/v2/products", {"sku": sku, "name": sku, "sourceIds": {}}, 201)
        shop.ok("POST", "/v2/inventory/bulk/sku/local", [{"sku": sku, "quantity": 2}])
    make_old_shaped(shop.id)
    store = DynamoBackfillStore(get_settings().main_table)

    # When the job runs one item per invocation
    runs = []
    while not runs or not runs[-1].done:
        runs.append(run_backfill(store, shop.id, pages=1, page_items=1))
        assert len(runs) < 50
        if not runs[-1].done:
            # Then between invocations the cursor says where it stands
            assert store.load_cursor(shop.id) is not None

    # Then every item was fixed exactly once over the invocations, and the cursor is gone at the end
    assert sum(r.numbered_products for r in runs) == 3
    assert sum(r.numbered_locations for r in runs) == 1
    assert sum(r.indexed_records for r in runs) == 3
    assert sum(r.indexed_movements for r in runs) == 3
    assert sum(r.keyed_records for r in runs) == 3
    assert store.load_cursor(shop.id) is None
    item = client("dynamodb").get_item(TableName=get_settings().main_table, Key=to_attrs(keys.job_cursor(shop.id, JOB)))
    assert "Item" not in item
    numbers = sorted(shop.ok("GET", f"/v2/products/sku/{sku}")["productId"] for sku in ("R-1", "R-2", "R-3"))
    assert len(set(numbers)) == 3
    assert run_backfill(store, shop.id).public()["productsNumbered"] == 0


def test_a_product_edited_between_the_read_and_the_write_keeps_the_edit_and_one_number(shop: Maker) -> None:
    # Given an old product, and an edit that lands after the backfill read it
    shop.ok("POST", "/v2/products", {"sku": "E-1", "name": "Edited", "sourceIds": {}}, 201)
    make_old_shaped(shop.id)
    store = DynamoBackfillStore(get_settings().main_table)
    table = get_settings().main_table
    real_page = store._page

    def page_then_edit(*args: Any, **kwargs: Any) -> Any:
        found = real_page(*args, **kwargs)
        if args[0] == keys.products_partition(shop.id):
            for item in found[0]:
                client("dynamodb").update_item(
                    TableName=table,
                    Key={"pk": item["pk"], "sk": item["sk"]},
                    UpdateExpression="SET version = version + :one",
                    ExpressionAttributeValues={":one": {"N": "1"}},
                )
        return found

    store._page = page_then_edit  # type: ignore[method-assign]
    first = run_backfill(store, shop.id)
    store._page = real_page  # type: ignore[method-assign]

    # Then the raced product was left alone (no number, no guard of the number it was given)
    assert (first.numbered_products, first.raced) == (0, 1)
    guards = [
        g["sk"]["S"] for g in _partition(keys.unique(shop.id, "", "")["pk"]) if g["sk"]["S"].startswith("PRODUCTNO#")
    ]
    assert guards == []

    # And the next run numbers it, once
    assert run_backfill(store, shop.id).numbered_products == 1
    assert isinstance(shop.ok("GET", "/v2/products/sku/E-1")["productId"], int)
    guards = [g for g in _partition(keys.unique(shop.id, "", "")["pk"]) if g["sk"]["S"].startswith("PRODUCTNO#")]
    assert len(guards) == 1
    assert json.dumps(run_backfill(store, shop.id).public()["productsNumbered"]) == "0"


def test_the_keys_pass_adds_each_products_missing_ids_in_one_update_deleted_records_included(shop: Maker) -> None:
    # Given two products with records written before the stock keys (one record since deleted), and one
    # product whose keys hold one of its two records
    for sku in ("K-1", "K-2"):
        shop.ok("POST", "/v2/products", {"sku": sku, "name": sku, "sourceIds": {}}, 201)
    rows = [{"sku": "K-1", "quantity": 1, "supplier": s} for s in ("A", "B", "C")]
    rows += [{"sku": "K-2", "quantity": 1, "supplier": s} for s in ("A", "B")]
    made = shop.ok("POST", "/v2/inventory/bulk/sku/supplier", rows)["results"]
    shop.call("DELETE", f"/v2/inventory/id/{made[2]['id']}")
    table = get_settings().main_table
    records = _partition(keys.stocks_partition(shop.id))
    assert len(records) == 5
    assert [item["active"]["BOOL"] for item in records].count(False) == 1
    by_product: dict[str, set[str]] = {}
    for item in records:
        by_product.setdefault(item["product_id"]["S"], set()).add(item["sk"]["S"])
    make_old_shaped(shop.id)
    k2 = next(p for p, ids in by_product.items() if len(ids) == 2)
    kept = sorted(by_product[k2])[0]
    client("dynamodb").update_item(
        TableName=table,
        Key=to_attrs(keys.product_stock(shop.id, k2)),
        UpdateExpression="ADD stock_ids :ids",
        ExpressionAttributeValues={":ids": {"SS": [kept]}},
    )
    store = DynamoBackfillStore(table)
    calls: list[str] = []
    stop = on_call(lambda service, operation: calls.append(operation))

    # When the keys pass reads its page
    try:
        fixed = store.fix_page(shop.id, "keys", None, 100)
    finally:
        stop()

    # Then one Query, one BatchGetItem of the products' keys, and ONE UpdateItem per product lacking ids
    assert calls == ["Query", "BatchGetItem", "UpdateItem", "UpdateItem"]
    assert (fixed.read, fixed.written, fixed.next_start) == (5, 4, None)
    for product, ids in by_product.items():
        item = client("dynamodb").get_item(TableName=table, Key=to_attrs(keys.product_stock(shop.id, product)))
        assert set(item["Item"]["stock_ids"]["SS"]) == ids
        assert item["Item"]["entity_type"]["S"] == "productStock"
    # And a second read finds nothing missing: no write
    calls.clear()
    stop = on_call(lambda service, operation: calls.append(operation))
    try:
        assert store.fix_page(shop.id, "keys", None, 100).written == 0
    finally:
        stop()
    assert calls == ["Query", "BatchGetItem"]


def test_the_keys_pass_flags_a_product_past_the_cap_and_reads_still_find_its_records(
    shop: Maker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given, with keys capped at 2 ids, old-shaped records: three of K-1 (more than the cap) and two of K-2
    monkeypatch.setattr(keys, "PRODUCT_STOCK_KEYS_CAP", 2)
    for sku in ("K-1", "K-2"):
        shop.ok("POST", "/v2/products", {"sku": sku, "name": sku, "sourceIds": {}}, 201)
    rows = [{"sku": "K-1", "quantity": 1, "supplier": s} for s in ("A", "B", "C")]
    rows += [{"sku": "K-2", "quantity": 2, "supplier": s} for s in ("A", "B")]
    shop.ok("POST", "/v2/inventory/bulk/sku/supplier", rows)
    make_old_shaped(shop.id)
    table = get_settings().main_table
    by_product: dict[str, set[str]] = {}
    for item in _partition(keys.stocks_partition(shop.id)):
        by_product.setdefault(item["product_id"]["S"], set()).add(item["sk"]["S"])
    k1 = next(p for p, ids in by_product.items() if len(ids) == 3)
    k2 = next(p for p, ids in by_product.items() if len(ids) == 2)

    # When the keys pass runs
    fixed = DynamoBackfillStore(table).fix_page(shop.id, "keys", None, 100)

    # Then K-2's ids are added, and K-1's keys are flagged full with none added
    assert fixed.written == 2
    full = client("dynamodb").get_item(TableName=table, Key=to_attrs(keys.product_stock(shop.id, k1)))["Item"]
    assert full[keys.PRODUCT_STOCK_FULL] == {"BOOL": True} and "stock_ids" not in full
    listed = client("dynamodb").get_item(TableName=table, Key=to_attrs(keys.product_stock(shop.id, k2)))["Item"]
    assert set(listed["stock_ids"]["SS"]) == by_product[k2]
    # And the batched read of many products finds every record of both
    assert product_inventory(shop, "K-1")["totalQuantity"] == 3
    assert product_inventory(shop, "K-2")["totalQuantity"] == 4
    # And a second run writes nothing
    assert DynamoBackfillStore(table).fix_page(shop.id, "keys", None, 100).written == 0
