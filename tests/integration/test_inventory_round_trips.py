"""Creating and updating 000 inventory items reads what they need in ONE BatchGetItem before the write.

Calls are counted with the botocore hook, from the route's first call after
authentication and the idempotency claim, so a hidden read shows up.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from chalicelib.storage.aws import on_call
from tests.integration.company import Company, Refs


@contextmanager
def counted() -> Iterator[list[str]]:
    calls: list[str] = []
    stop = on_call(lambda service, operation: calls.append(operation) if service == "dynamodb" else None)
    try:
        yield calls
    finally:
        stop()


def route_calls(calls: list[str]) -> list[str]:
    """The route's own calls: without the API key's GetItem and the Idempotency-Key's PutItem/UpdateItem."""
    own = calls[1:]  # authentication first
    if own and own[0] == "PutItem":
        own = own[1:-1]  # the idempotency claim, and storing the response at the end
    return own


def test_a_create_reads_once_then_writes(acme: Company, refs: Refs) -> None:
    acme.ok("POST", "/inventory", [refs.item(productName="Bar 50mm")], 201)  # the product exists now
    items = [refs.item(productName="Bar 50mm", heatCode=f"H-{i % 3}") for i in range(33)]

    with counted() as calls:
        response = acme.call("POST", "/inventory", items, {"Idempotency-Key": "create-33"})

    assert response.status_code == 201, response.body
    created = json.loads(response.body)
    assert route_calls(calls) == ["BatchGetItem", "TransactWriteItems"]
    # The labels and certificates in the answer came from that one read.
    assert {i["millCertificationId"] for i in created if i["heatCode"] == "H-1"} == {refs.cert}
    assert {i["millCertificationId"] for i in created if i["heatCode"] != "H-1"} == {None}
    assert {(i["typeLabel"], i["stockLocationLabel"], i["supplierName"]) for i in created} == {
        ("Round bar", "Yard A", "Steel Co")
    }


def test_a_create_with_new_product_names_writes_them_in_the_records_transaction(acme: Company, refs: Refs) -> None:
    with counted() as calls:
        acme.ok("POST", "/inventory", [refs.item(productName=f"New {i}") for i in range(3)], 201)

    # The read said which products are missing; one counter call numbers them all (004 productId),
    # and they commit in the records' one transaction.
    assert route_calls(calls) == ["BatchGetItem", "UpdateItem", "TransactWriteItems"]


def test_a_retried_create_finds_what_it_made_on_the_write(acme: Company, refs: Refs) -> None:
    items = [refs.item(productName="Bar 50mm") for _ in range(2)]
    first = acme.call("POST", "/inventory", items, {"Idempotency-Key": "k-1"})
    # The idempotency record is gone (as after its expiry): the command id still finds what it made.
    from chalicelib.settings import get_settings
    from chalicelib.storage.aws import client

    idem = get_settings().idempotency_table
    for item in client("dynamodb").scan(TableName=idem)["Items"]:
        client("dynamodb").delete_item(TableName=idem, Key={"pk": item["pk"], "sk": item["sk"]})

    with counted() as calls:
        again = acme.call("POST", "/inventory", items, {"Idempotency-Key": "k-1"})

    assert again.status_code == 201, again.body
    assert [i["inventoryId"] for i in json.loads(again.body)] == [i["inventoryId"] for i in json.loads(first.body)]
    # The usual read, the records' transaction refused (they exist), then the records it made.
    assert route_calls(calls) == ["BatchGetItem", "TransactWriteItems", "BatchGetItem"]


def test_an_update_reads_once_before_its_transaction_and_once_after(acme: Company, refs: Refs) -> None:
    made = acme.ok("POST", "/inventory", [refs.item(productName=f"Bar {i}") for i in range(5)], 201)
    changes = [{"inventoryId": i["inventoryId"], "quantity": "9", "weight": "1.5"} for i in made]

    with counted() as calls:
        updated = acme.ok("PUT", "/inventory", changes)

    # Before: the items, their references and new names' products together; after: the items as stored
    # with the labels of the references they kept (heat code, type, location...).
    assert route_calls(calls) == ["BatchGetItem", "TransactWriteItems", "BatchGetItem"]
    assert {(i["quantity"], i["weight"], i["millCertificationId"], i["typeLabel"]) for i in updated} == {
        (9, 1.5, refs.cert, "Round bar")
    }
    assert [i["version"] for i in updated] == [i["version"] + 1 for i in made]


def test_an_update_that_renames_reads_the_new_product_in_the_same_read(acme: Company, refs: Refs) -> None:
    made = acme.ok("POST", "/inventory", [refs.item(productName="Bar A")], 201)[0]

    with counted() as calls:
        renamed = acme.ok("PUT", "/inventory", [{"inventoryId": made["inventoryId"], "productName": "Bar B"}])

    assert renamed[0]["productName"] == "Bar B"
    # The new product (numbered by one counter call) and the renamed item commit in one transaction.
    assert route_calls(calls) == ["BatchGetItem", "UpdateItem", "TransactWriteItems", "BatchGetItem"]

    # The item left Bar A's stock keys and joined Bar B's, in that transaction.
    from chalicelib.settings import get_settings
    from chalicelib.storage.stock_repo import DynamoStockStore
    from tests.integration.test_stock_store import stock_keys

    store = DynamoStockStore(get_settings().main_table)
    stock_id = made["inventoryId"]
    bar_b = store.get_record(acme.id, stock_id).product_id
    assert stock_keys(get_settings().main_table, acme.id, bar_b) == {stock_id}
    bar_a = product_of(acme, "Bar A")
    assert bar_a != bar_b and stock_keys(get_settings().main_table, acme.id, bar_a) == set()


def product_of(company: Company, name: str) -> str:
    from chalicelib.features.company_inventory.service import product_id_for

    return product_id_for(company.id, name)
