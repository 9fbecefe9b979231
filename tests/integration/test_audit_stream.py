"""The audit stream handler against moto: real items, real stream records, real history.

Items are written by the storage layer through the services; the records
are read back from the main table's stream and shaped the way Lambda
delivers them (chalice.test has no stream event generator), then handed to
`audit.handle`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.core.models import Actor, HistoryEvent
from chalicelib.core.stock.service import NewStockRecord
from chalicelib.events import audit
from chalicelib.settings import get_settings
from chalicelib.storage import dynamo, keys
from chalicelib.storage.aws import client, on_call
from chalicelib.wiring import history_service, stock_service, tenant_service

ALICE = Actor(id="user-alice", name="Alice")
BOB = Actor(id="user-bob", name="Bob")
CAROL = Actor(id="user-carol", name="Carol")
TENANT = "tenant-1"


class MainTableStream:
    """Reads the main table's stream and hands out the records not yet taken, in Lambda's shape."""

    def __init__(self) -> None:
        table = client("dynamodb").describe_table(TableName=get_settings().main_table)["Table"]
        self.arn: str = table["LatestStreamArn"]
        self._taken = 0

    def _all(self) -> list[dict[str, Any]]:
        streams = client("dynamodbstreams")
        shards = streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        records: list[dict[str, Any]] = []
        for shard in shards:
            iterator = streams.get_shard_iterator(
                StreamArn=self.arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                page = streams.get_records(ShardIterator=iterator)
                records.extend(page["Records"])
                iterator = page.get("NextShardIterator") if page["Records"] else None
        return [self._as_lambda_delivers(r) for r in records]

    def _as_lambda_delivers(self, record: dict[str, Any]) -> dict[str, Any]:
        change = dict(record["dynamodb"])
        # The streams API answers with a datetime; Lambda events carry epoch seconds.
        change["ApproximateCreationDateTime"] = int(change["ApproximateCreationDateTime"].timestamp())
        return {**record, "dynamodb": change, "eventSourceARN": self.arn}

    def take(self) -> list[dict[str, Any]]:
        """The stream records since the last take, but those of products' stock keys (keys.product_stock:
        written with every record create, never audited)."""
        records = self._all()[self._taken :]
        self._taken += len(records)
        # By key: moto's stream image of an item a transaction's Update created holds its keys only.
        return [r for r in records if not r["dynamodb"]["Keys"]["pk"]["S"].endswith("#PRODUCTSTOCK")]


def deliver(records: list[dict[str, Any]]) -> dict[str, Any]:
    return audit.handle({"Records": records}, None)


def history_items(tenant_id: str, entity_type: str, entity_id: str) -> list[dict[str, Any]]:
    response = client("dynamodb").query(
        TableName=get_settings().history_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.history_partition(tenant_id, entity_type, entity_id)}},
        ConsistentRead=True,
    )
    items: list[dict[str, Any]] = response["Items"]
    return items


def all_history_partitions() -> set[str]:
    # A scan is fine in a test: it proves nothing else was written.
    items = client("dynamodb").scan(TableName=get_settings().history_table)["Items"]
    return {item["pk"]["S"] for item in items}


def history_count() -> int:
    return int(client("dynamodb").scan(TableName=get_settings().history_table, Select="COUNT")["Count"])


def changes(event: HistoryEvent) -> dict[str, tuple[Any, Any]]:
    return {c.field: (c.old, c.new) for c in event.changes}


def main_item(key: dict[str, str]) -> dict[str, Any]:
    item: dict[str, Any] = client("dynamodb").get_item(
        TableName=get_settings().main_table, Key={k: {"S": v} for k, v in key.items()}, ConsistentRead=True
    )["Item"]
    return item


@pytest.fixture
def stream(aws: None) -> MainTableStream:
    return MainTableStream()


@pytest.fixture
def dynamodb_calls() -> Iterator[list[str]]:
    calls: list[str] = []
    unsubscribe = on_call(lambda service, operation: calls.append(operation) if service == "dynamodb" else None)
    yield calls
    unsubscribe()


def new_stock(quantity: int, actor: Actor = ALICE, **extra: Any) -> str:
    new = NewStockRecord(product_id="prod-1", location_id="loc-1", quantity=Decimal(quantity), **extra)
    return stock_service().create_record(TENANT, new, actor).stock_id


# -- who, what, when -----------------------------------------------------------


def test_a_stock_records_history_names_who_changed_what_and_when(stream: MainTableStream) -> None:
    # Given a stock record created by Alice, adjusted by Bob and reserved from by Carol
    stock_id = new_stock(10, ALICE, name="Row A", natural_key="row-a")
    stock_service().adjust(TENANT, stock_id, Decimal(-3), BOB, reason="damaged")
    reservation = stock_service().reserve(TENANT, stock_id, Decimal(2), CAROL, reference={"orderId": "o-1"})

    # When the stream delivers every record of those writes in one batch
    result = deliver(stream.take())

    # Then nothing failed and the record's history tells the story field by field
    assert result == {"batchItemFailures": []}
    created, adjusted, reserved = history_service().events_for(TENANT, "stock", stock_id)

    assert (created.change_type, created.changed_by_id, created.changed_by_name) == ("INSERT", ALICE.id, "Alice")
    assert (created.entity_type, created.entity_id, created.entity_label) == ("stock", stock_id, "Row A")
    assert changes(created)["on_hand"] == (None, Decimal(10))
    assert changes(created)["name"] == (None, "Row A")

    assert (adjusted.change_type, adjusted.changed_by_id, adjusted.changed_by_name) == ("MODIFY", BOB.id, "Bob")
    assert changes(adjusted) == {"on_hand": (Decimal(10), Decimal(7)), "available": (Decimal(10), Decimal(7))}

    assert (reserved.changed_by_id, reserved.changed_by_name) == (CAROL.id, "Carol")
    assert changes(reserved) == {"reserved": (Decimal(0), Decimal(2)), "available": (Decimal(7), Decimal(5))}

    # ...in time order, each at the moment its writer stamped on the item
    assert created.changed_at < adjusted.changed_at < reserved.changed_at
    assert keys.stamp(reserved.changed_at) == main_item(keys.stock(TENANT, stock_id))["changed_at"]["S"]

    # And the new reservation has its own history
    (reservation_created,) = history_service().events_for(TENANT, "reservation", reservation.reservation_id)
    assert reservation_created.change_type == "INSERT"
    assert reservation_created.changed_by_name == "Carol"
    assert changes(reservation_created)["quantity"] == (None, Decimal(2))
    assert changes(reservation_created)["reference"] == (None, {"orderId": "o-1"})


def test_ledger_lines_and_uniqueness_guards_get_no_history(stream: MainTableStream) -> None:
    stock_id = new_stock(10, natural_key="row-a")
    stock_service().adjust(TENANT, stock_id, Decimal(5), BOB)
    records = stream.take()
    assert {r["dynamodb"]["NewImage"]["entity_type"]["S"] for r in records} == {"stock", "movement", "guard"}

    assert deliver(records) == {"batchItemFailures": []}

    assert all_history_partitions() == {keys.history_partition(TENANT, "stock", stock_id)}


def test_tenant_and_key_changes_are_audited(stream: MainTableStream) -> None:
    # Given a tenant created by the system, whose key an admin then revokes
    tenant, _ = tenant_service().create_tenant("Acme Ltd")
    key = tenant_service().list_keys(tenant.tenant_id)[0]
    admin = Actor(id="user-admin", name="Admin")
    tenant_service().revoke_key(tenant.tenant_id, key.key_id, admin)

    assert deliver(stream.take()) == {"batchItemFailures": []}

    (tenant_created,) = history_service().events_for(tenant.tenant_id, "tenant", tenant.tenant_id)
    assert (tenant_created.change_type, tenant_created.changed_by_id) == ("INSERT", "system")
    assert (tenant_created.entity_label, changes(tenant_created)["name"]) == ("Acme Ltd", (None, "Acme Ltd"))

    key_created, key_revoked = history_service().events_for(tenant.tenant_id, "apiKey", key.key_id)
    assert key_created.change_type == "INSERT"
    # The secret's hash is stored on the key item but never copied into history.
    assert "key_hash" not in changes(key_created)
    assert changes(key_created)["permissions"][1] == key.permissions
    assert (key_revoked.change_type, key_revoked.changed_by_id, key_revoked.changed_by_name) == (
        "MODIFY",
        "user-admin",
        "Admin",
    )
    assert changes(key_revoked) == {"revoked": (False, True)}


def test_a_removed_item_is_audited_with_its_last_values_and_the_stream_time(stream: MainTableStream) -> None:
    stock_id = new_stock(4, CAROL, name="Row R")
    client("dynamodb").delete_item(
        TableName=get_settings().main_table, Key={k: {"S": v} for k, v in keys.stock(TENANT, stock_id).items()}
    )
    records = stream.take()
    removal = next(r for r in records if r["eventName"] == "REMOVE")

    assert deliver(records) == {"batchItemFailures": []}

    created, removed = history_service().events_for(TENANT, "stock", stock_id)
    assert removed.change_type == "REMOVE"
    assert removed.event_id == removal["eventID"]
    # The stream's time, rounded down to the second, unless that would put it before the last write.
    stream_time = datetime.fromtimestamp(removal["dynamodb"]["ApproximateCreationDateTime"], UTC)
    assert removed.changed_at == max(stream_time, created.changed_at + timedelta(microseconds=1))
    # The old image names the last writer, and every field goes to nothing.
    assert (removed.changed_by_id, removed.changed_by_name, removed.entity_label) == (CAROL.id, "Carol", "Row R")
    assert changes(removed)["on_hand"] == (Decimal(4), None)
    assert all(c.new is None for c in removed.changes)


# -- the timeline ----------------------------------------------------------------


def test_two_entities_interleave_into_one_chronological_timeline(stream: MainTableStream) -> None:
    a = new_stock(10, name="A")
    b = new_stock(20, name="B")
    stock_service().adjust(TENANT, a, Decimal(-1), ALICE)
    stock_service().adjust(TENANT, b, Decimal(-2), BOB)
    stock_service().adjust(TENANT, a, Decimal(-3), CAROL)
    # Delivered in two batches, the second first: the timeline comes from the data, not the delivery.
    records = stream.take()
    middle = len(records) // 2
    assert deliver(records[middle:]) == {"batchItemFailures": []}
    assert deliver(records[:middle]) == {"batchItemFailures": []}

    timeline = history_service().interleaved(TENANT, [("stock", a), ("stock", b)])

    assert [(e.entity_label, e.change_type) for e in timeline] == [
        ("A", "INSERT"),
        ("B", "INSERT"),
        ("A", "MODIFY"),
        ("B", "MODIFY"),
        ("A", "MODIFY"),
    ]
    assert [e.changed_at for e in timeline] == sorted(e.changed_at for e in timeline)
    assert [changes(e)["on_hand"] for e in timeline[2:]] == [
        (Decimal(10), Decimal(9)),
        (Decimal(20), Decimal(18)),
        (Decimal(9), Decimal(6)),
    ]


# -- redelivery ------------------------------------------------------------------


def test_a_redelivered_batch_writes_nothing_twice(stream: MainTableStream) -> None:
    stock_id = new_stock(10)
    stock_service().adjust(TENANT, stock_id, Decimal(-3), BOB)
    client("dynamodb").delete_item(
        TableName=get_settings().main_table, Key={k: {"S": v} for k, v in keys.stock(TENANT, stock_id).items()}
    )
    records = stream.take()
    assert deliver(records) == {"batchItemFailures": []}
    first = history_items(TENANT, "stock", stock_id)
    assert [i["change_type"]["S"] for i in first] == ["INSERT", "MODIFY", "REMOVE"]

    # Lambda retries the whole batch (a timeout, say), and a record shows up twice in one batch
    assert deliver(records) == {"batchItemFailures": []}
    assert deliver([*records, *records]) == {"batchItemFailures": []}

    assert history_items(TENANT, "stock", stock_id) == first
    assert history_count() == 3


# -- partial failures --------------------------------------------------------------


POISONS: dict[str, tuple[str, Any]] = {
    # TypeDeserializer reads this as Decimal('NaN'), which no item can hold.
    "not-a-number": ("on_hand", {"N": "not-a-number"}),
    "unknown-type": ("on_hand", {"Q": "10"}),
    "no-tenant": ("tenant_id", {"NULL": True}),
}


def poisoned(record: dict[str, Any], sequence_number: str, poison: str) -> dict[str, Any]:
    """A copy of a real record with one attribute the handler cannot turn into history."""
    bad = copy.deepcopy(record)
    bad["eventID"] = "poison"
    bad["dynamodb"]["SequenceNumber"] = sequence_number
    attribute, value = POISONS[poison]
    bad["dynamodb"]["NewImage"][attribute] = value
    return bad


@pytest.mark.parametrize("poison", sorted(POISONS))
def test_a_poisoned_record_is_reported_with_everything_after_it(
    stream: MainTableStream, dynamodb_calls: list[str], poison: str
) -> None:
    a = new_stock(10, name="A")
    b = new_stock(20, name="B")
    c = new_stock(30, name="C")
    records = [r for r in stream.take() if r["dynamodb"]["NewImage"]["entity_type"]["S"] == "stock"]
    assert len(records) == 3
    sequence = [r["dynamodb"]["SequenceNumber"] for r in records]
    bad = poisoned(records[1], str(int(sequence[0]) + 1), poison)
    dynamodb_calls.clear()

    result = deliver([records[0], bad, records[1], records[2]])

    # The poisoned record and every later one go back to Lambda, by sequence number...
    assert result == {
        "batchItemFailures": [
            {"itemIdentifier": bad["dynamodb"]["SequenceNumber"]},
            {"itemIdentifier": sequence[1]},
            {"itemIdentifier": sequence[2]},
        ]
    }
    # ...the one before it is written, in one call, and nothing after it is.
    assert dynamodb_calls == ["BatchWriteItem"]
    assert [e.entity_label for e in history_service().events_for(TENANT, "stock", a)] == ["A"]
    assert history_service().events_for(TENANT, "stock", b) == []
    assert history_service().events_for(TENANT, "stock", c) == []


def test_a_record_with_no_event_id_or_image_is_reported(stream: MainTableStream) -> None:
    new_stock(0)
    (record,) = stream.take()
    broken = copy.deepcopy(record)
    del broken["dynamodb"]["NewImage"]

    assert deliver([broken]) == {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
    assert history_count() == 0


def test_a_failed_write_reports_its_chunk_and_everything_after_it(
    stream: MainTableStream, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 30 records, and DynamoDB that throttles the second BatchWriteItem forever
    for _ in range(30):
        new_stock(0)
    records = stream.take()
    assert len(records) == 30
    ddb = client("dynamodb")
    real_batch_write = ddb.batch_write_item
    calls: list[int] = []

    def throttled_after_first(**kwargs: Any) -> dict[str, Any]:
        calls.append(len(kwargs["RequestItems"][get_settings().history_table]))
        if len(calls) == 1:
            return dict(real_batch_write(**kwargs))
        return {"UnprocessedItems": kwargs["RequestItems"]}

    monkeypatch.setattr(ddb, "batch_write_item", throttled_after_first)
    monkeypatch.setattr(dynamo, "_backoff", lambda attempt: None)

    # When the batch is delivered
    result = deliver(records)

    # Then the first 25 are written and the last 5 go back to Lambda
    assert calls[0] == 25
    assert set(calls[1:]) == {5}
    assert result == {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in records[25:]]}
    assert history_count() == 25

    # And Lambda's retry from the first reported record completes the trail
    monkeypatch.setattr(ddb, "batch_write_item", real_batch_write)
    assert deliver(records[25:]) == {"batchItemFailures": []}
    assert history_count() == 30


# -- round trips -------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 25, 26, 60])
def test_a_batch_of_n_records_costs_ceil_n_over_25_writes(
    stream: MainTableStream, dynamodb_calls: list[str], n: int
) -> None:
    for _ in range(n):
        new_stock(0)
    records = stream.take()
    assert len(records) == n
    dynamodb_calls.clear()

    assert deliver(records) == {"batchItemFailures": []}

    assert dynamodb_calls == ["BatchWriteItem"] * math.ceil(n / 25)
    assert history_count() == n


def test_the_chalice_function_runs_the_handler(stream: MainTableStream) -> None:
    from chalice.test import Client

    from app import app

    stock_id = new_stock(3)
    records = stream.take()

    with Client(app) as chalice_client:
        response = chalice_client.lambda_.invoke("audit_stream", {"Records": records})

    assert response.payload == {"batchItemFailures": []}
    assert len(history_service().events_for(TENANT, "stock", stock_id)) == 1
