"""A product's stock keys past their cap (keys.PRODUCT_STOCK_KEYS_CAP, 3 here): the set stops growing, is
flagged full, and the product is read by its index; creating its records never fails for it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chalicelib.core.errors import AlreadyExists, DuplicateCommand
from chalicelib.core.ids import new_id
from chalicelib.core.models import Actor, StockRecord
from chalicelib.storage import keys
from chalicelib.storage.codec import to_attrs
from chalicelib.storage.dynamo import ddb
from chalicelib.storage.stock_repo import DynamoStockStore
from chalicelib.storage.transaction import Transaction

ACTOR = Actor(id="user:1", name="Tester")
CAP = 3


@pytest.fixture(autouse=True)
def small_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "PRODUCT_STOCK_KEYS_CAP", CAP)


def record(tenant: str, product: str = "P1", location: str = "L1") -> StockRecord:
    return StockRecord(
        tenant_id=tenant, product_id=product, location_id=location, on_hand=Decimal(1), available=Decimal(1)
    )


def keys_item(table: str, tenant: str, product: str) -> dict[str, Any]:
    key = to_attrs(keys.product_stock(tenant, product))
    found: dict[str, Any] = ddb().get_item(TableName=table, Key=key, ConsistentRead=True).get("Item", {})
    return found


def test_records_past_the_cap_are_created_and_the_keys_are_flagged_full(table: str, calls: list[str]) -> None:
    store = DynamoStockStore(table)
    tenant = new_id()
    made = [record(tenant, location=f"L{n}") for n in range(CAP + 2)]

    for one in made[:CAP]:
        store.create_record(one, None, ACTOR)
    assert calls == ["TransactWriteItems"] * CAP  # within the cap: one transaction each
    calls.clear()
    for one in made[CAP:]:
        store.create_record(one, None, ACTOR)

    # The first create past the cap is cancelled on the keys' condition alone and sent again flagging
    # them; the next one too (the flag is the condition's), each then costs two transactions.
    assert calls == ["TransactWriteItems", "TransactWriteItems"] * 2
    item = keys_item(table, tenant, "P1")
    assert item[keys.PRODUCT_STOCK_FULL] == {"BOOL": True}
    assert set(item["stock_ids"]["SS"]) == {one.stock_id for one in made[:CAP]}  # it stopped growing
    assert item["entity_type"]["S"] == "productStock"
    assert {r.stock_id for r in store.get_records(tenant, [one.stock_id for one in made]).values()} == {
        one.stock_id for one in made
    }


def test_a_full_product_is_read_by_its_index_and_the_others_by_their_keys(table: str, calls: list[str]) -> None:
    store = DynamoStockStore(table)
    tenant = new_id()
    full = [record(tenant, "P1", f"L{n}") for n in range(CAP + 1)]
    store.create_records([(one, None) for one in full], ACTOR)  # more than the cap in one transaction
    small = [record(tenant, "P2", f"L{n}") for n in range(2)]
    store.create_records([(one, None) for one in small], ACTOR)
    assert keys_item(table, tenant, "P1")[keys.PRODUCT_STOCK_FULL] == {"BOOL": True}
    assert keys.PRODUCT_STOCK_FULL not in keys_item(table, tenant, "P2")
    calls.clear()

    found = store.records_for_products(tenant, ["P1", "P2", "P3"])

    assert calls == ["BatchGetItem", "BatchGetItem", "Query"]  # the keys, P2's records, P1's index
    assert sorted(r.stock_id for r in found["P1"]) == sorted(one.stock_id for one in full)
    assert sorted(r.stock_id for r in found["P2"]) == sorted(one.stock_id for one in small)
    assert found["P3"] == []


def test_a_transaction_whose_other_condition_failed_too_is_refused_and_writes_nothing(
    table: str, calls: list[str]
) -> None:
    store = DynamoStockStore(table)
    tenant = new_id()
    existing = record(tenant, location="L0")
    store.create_record(existing, None, ACTOR)
    for n in range(1, CAP):
        store.create_record(record(tenant, location=f"L{n}"), None, ACTOR)
    calls.clear()

    # A create of a record that exists, and one more id for the keys at their cap: the record's key decides
    # (after the keys' flag was tried in its place: the record's condition fails again on its own).
    tx = Transaction()
    store.add_create(tx, existing, None, ACTOR)
    store.add_create(tx, record(tenant, location="L9"), None, ACTOR)
    with pytest.raises(AlreadyExists):
        tx.commit()

    assert calls == ["TransactWriteItems", "TransactWriteItems"]
    assert keys.PRODUCT_STOCK_FULL not in keys_item(table, tenant, "P1")
    assert len(keys_item(table, tenant, "P1")["stock_ids"]["SS"]) == CAP


def test_a_command_sent_again_after_its_keys_filled_is_known_as_done(table: str) -> None:
    store = DynamoStockStore(table)
    tenant = new_id()
    for n in range(CAP):
        store.create_record(record(tenant, location=f"L{n}"), None, ACTOR)
    late = record(tenant, location="L9")

    def send() -> None:
        tx = Transaction(command_id="command-1")
        store.add_create(tx, late, None, ACTOR)
        tx.commit()

    send()
    # The same command again, rebuilt from scratch (new timestamps): its first attempt is cancelled (the
    # record exists, the keys are flagged), its second carries the token the first run committed with, so
    # DynamoDB knows the command: it ran (as for any command whose keys are not full).
    with pytest.raises(DuplicateCommand):
        send()
    # Another command creating the same record is refused.
    with pytest.raises(AlreadyExists):
        tx = Transaction(command_id="command-2")
        store.add_create(tx, late, None, ACTOR)
        tx.commit()
    assert len(store.get_records(tenant, [late.stock_id])) == 1
