"""moto as the local stack runs it (`infra.moto_server`).

TransactWriteItems rolls back by item (`roll_back_by_item`): a cancelled
transaction must leave every item it named as it was (created items gone,
updated and deleted ones back) and add no stream record, while what other
writers wrote, stream records included, stays. And it must not copy whole
tables: the table object is the same one afterwards.

Condition expressions are parsed once (`cache_condition_parsing`): the same
expression with other values must still be judged on its own values.

A new item's size is checked once, on the whole item (`check_item_size_once`):
the 400 KB limit must hold as it did, however the size is spread.

Requests are read with json.loads (`parse_requests_as_json`): binary values,
at any depth, must come back as the bytes written, and a map attribute named
B or BS must stay a map.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.responses import DynamoHandler

from chalicelib.settings import get_settings, reset_settings
from chalicelib.storage.aws import client, reset_clients
from infra.moto_server import (
    cache_condition_parsing,
    check_item_size_once,
    parse_requests_as_json,
    roll_back_by_item,
)
from infra.provision import create_tables, table_names


@pytest.fixture
def main() -> Iterator[str]:
    reset_settings()
    reset_clients()
    roll_back_by_item()
    cache_condition_parsing()
    check_item_size_once()
    parse_requests_as_json()
    with mock_aws():
        create_tables(client("dynamodb"), table_names(get_settings()))
        yield get_settings().main_table
    reset_clients()


def _item(pk: str, sk: str, **more: Any) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"N": str(v)} for k, v in more.items()}}


def _get(table: str, pk: str, sk: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (
        client("dynamodb")
        .get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True)
        .get("Item")
    )
    return found


def _stream(table: str) -> list[dict[str, Any]]:
    streams = client("dynamodbstreams")
    arn = client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records: list[dict[str, Any]] = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
    return records


def _backend_table(name: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends["123456789012"][get_settings().region].tables[name]


def test_a_cancelled_transaction_puts_back_every_item_it_named_and_adds_no_stream_record(main: str) -> None:
    ddb = client("dynamodb")
    ddb.put_item(TableName=main, Item=_item("A", "kept", n=1))
    ddb.put_item(TableName=main, Item=_item("A", "updated", n=1))
    ddb.put_item(TableName=main, Item=_item("A", "deleted", n=1))
    ddb.put_item(TableName=main, Item=_item("B", "bystander", n=7))
    table_before = _backend_table(main)
    stream_before = _stream(main)

    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": main, "Item": _item("A", "created", n=1)}},
                {"Put": {"TableName": main, "Item": _item("C", "new partition", n=1)}},
                {
                    "Update": {
                        "TableName": main,
                        "Key": {"pk": {"S": "A"}, "sk": {"S": "updated"}},
                        "UpdateExpression": "SET n = n + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Delete": {"TableName": main, "Key": {"pk": {"S": "A"}, "sk": {"S": "deleted"}}}},
                {
                    "ConditionCheck": {
                        "TableName": main,
                        "Key": {"pk": {"S": "A"}, "sk": {"S": "kept"}},
                        "ConditionExpression": "n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
            ]
        )

    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    codes = [r["Code"] for r in raised.value.response["CancellationReasons"]]
    assert codes == ["None", "None", "None", "None", "ConditionalCheckFailed"]
    assert _get(main, "A", "created") is None
    assert _get(main, "C", "new partition") is None
    assert _get(main, "A", "updated") == _item("A", "updated", n=1)
    assert _get(main, "A", "deleted") == _item("A", "deleted", n=1)
    assert _get(main, "B", "bystander") == _item("B", "bystander", n=7)
    assert _backend_table(main) is table_before  # rolled back in place, not by swapping in a copy
    assert [r["dynamodb"]["SequenceNumber"] for r in _stream(main)] == [
        r["dynamodb"]["SequenceNumber"] for r in stream_before
    ]
    # The table goes on as before: the next write is streamed after the earlier ones.
    ddb.put_item(TableName=main, Item=_item("A", "after", n=1))
    after = _stream(main)
    assert len(after) == len(stream_before) + 1
    assert after[-1]["dynamodb"]["Keys"]["sk"] == {"S": "after"}


def test_a_transaction_naming_one_item_twice_is_refused_and_changes_nothing(main: str) -> None:
    ddb = client("dynamodb")
    ddb.put_item(TableName=main, Item=_item("A", "x", n=1))
    stream_before = len(_stream(main))

    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": main, "Item": _item("A", "y", n=1)}},
                {"Put": {"TableName": main, "Item": _item("A", "x", n=5)}},
                {"Delete": {"TableName": main, "Key": {"pk": {"S": "A"}, "sk": {"S": "x"}}}},
            ]
        )

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert _get(main, "A", "y") is None
    assert _get(main, "A", "x") == _item("A", "x", n=1)
    assert len(_stream(main)) == stream_before


def test_a_transaction_that_succeeds_writes_everything_and_streams_each_write(main: str) -> None:
    ddb = client("dynamodb")
    ddb.put_item(TableName=main, Item=_item("A", "x", n=1))
    stream_before = len(_stream(main))

    ddb.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": main,
                    "Item": _item("A", "y", n=2),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": main,
                    "Key": {"pk": {"S": "A"}, "sk": {"S": "x"}},
                    "UpdateExpression": "SET n = n + :one",
                    "ConditionExpression": "n = :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
    )

    assert _get(main, "A", "y") == _item("A", "y", n=2)
    assert _get(main, "A", "x") == _item("A", "x", n=2)
    assert [r["eventName"] for r in _stream(main)[stream_before:]] == ["INSERT", "MODIFY"]


def test_a_failed_transaction_does_not_copy_the_table(main: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import copy

    from moto.dynamodb.models.table import Table

    ddb = client("dynamodb")
    ddb.put_item(TableName=main, Item=_item("A", "x", n=1))
    copied: list[Any] = []
    real = copy.deepcopy

    def counting(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table):
            copied.append(value)
        return real(value, memo)

    monkeypatch.setattr(copy, "deepcopy", counting)
    with pytest.raises(ClientError):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": main, "Item": _item("A", "y", n=1)}},
                {
                    "Put": {
                        "TableName": main,
                        "Item": _item("A", "x", n=1),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )

    assert copied == []
    assert _get(main, "A", "y") is None


def test_a_cached_condition_is_judged_on_each_request_s_own_values(main: str) -> None:
    ddb = client("dynamodb")
    ddb.put_item(TableName=main, Item=_item("A", "x", n=1))

    def set_n_if(expected: int, new: int) -> bool:
        try:
            ddb.put_item(
                TableName=main,
                Item=_item("A", "x", n=new),
                ConditionExpression="#n = :expected",
                ExpressionAttributeNames={"#n": "n"},
                ExpressionAttributeValues={":expected": {"N": str(expected)}},
            )
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
            return False
        return True

    assert set_n_if(1, 2)
    assert not set_n_if(1, 3)  # the same expression and names, the same values as before: n is 2 now
    assert set_n_if(2, 3)
    assert not set_n_if(5, 6)
    assert _get(main, "A", "x") == _item("A", "x", n=3)


def test_a_condition_on_a_binary_value_is_cached_and_judged_on_its_own_bytes(main: str) -> None:
    ddb = client("dynamodb")
    ddb.put_item(TableName=main, Item={"pk": {"S": "T#b"}, "sk": {"S": "1"}, "payload": {"B": b"one"}})

    def swap(expected: bytes) -> None:
        ddb.update_item(
            TableName=main,
            Key={"pk": {"S": "T#b"}, "sk": {"S": "1"}},
            UpdateExpression="SET payload = :new",
            ConditionExpression="payload = :old",
            ExpressionAttributeValues={":old": {"B": expected}, ":new": {"B": expected + b"!"}},
        )

    swap(b"one")
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        swap(b"one")
    swap(b"one!")

    assert (_get(main, "T#b", "1") or {})["payload"] == {"B": b"one!!"}


@pytest.mark.parametrize("parts", [1, 2, 40])
def test_an_item_over_400_kb_is_refused_however_its_size_is_spread(main: str, parts: int) -> None:
    ddb = client("dynamodb")

    def sized(sk: str, size: int) -> dict[str, Any]:
        return {"pk": {"S": "T#1#BIG"}, "sk": {"S": sk}} | {f"a{n}": {"S": "x" * (size // parts)} for n in range(parts)}

    too_big, fits = sized("x", 410_000), sized("y", 390_000)

    with pytest.raises(ClientError) as refused:
        ddb.put_item(TableName=main, Item=too_big)
    with pytest.raises(ClientError) as refused_in_a_transaction:
        ddb.transact_write_items(TransactItems=[{"Put": {"TableName": main, "Item": too_big}}])
    ddb.put_item(TableName=main, Item=fits)

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "maximum allowed size" in refused.value.response["Error"]["Message"]
    assert refused_in_a_transaction.value.response["Error"]["Code"] in (
        "ValidationException",
        "TransactionCanceledException",
    )
    stored = ddb.get_item(TableName=main, Key={"pk": {"S": "T#1#BIG"}, "sk": {"S": "y"}})["Item"]
    assert stored == fits
    assert "Item" not in ddb.get_item(TableName=main, Key={"pk": {"S": "T#1#BIG"}, "sk": {"S": "x"}})


def test_binary_values_read_as_json_come_back_as_written(main: str) -> None:
    blob, other = b"\x00\xffstock", b"\x01ledger"
    item = {
        **_item("P#bin", "S#1"),
        "blob": {"B": blob},
        "blobs": {"BS": [blob, other]},
        "nested": {"M": {"B": {"B": other}, "BS": {"S": "text"}, "list": {"L": [{"B": blob}]}}},
    }
    client("dynamodb").put_item(TableName=main, Item=item)
    client("dynamodb").update_item(
        TableName=main,
        Key={"pk": {"S": "P#bin"}, "sk": {"S": "S#1"}},
        UpdateExpression="SET more = :b",
        ConditionExpression="#blob = :was",
        ExpressionAttributeNames={"#blob": "blob"},
        ExpressionAttributeValues={":b": {"B": other}, ":was": {"B": blob}},
    )

    stored = _get(main, "P#bin", "S#1")

    assert stored is not None
    assert stored["blob"] == {"B": blob}
    assert sorted(stored["blobs"]["BS"]) == sorted([blob, other])
    assert stored["nested"]["M"]["B"] == {"B": other}
    assert stored["nested"]["M"]["BS"] == {"S": "text"}
    assert stored["nested"]["M"]["list"]["L"] == [{"B": blob}]
    assert stored["more"] == {"B": other}


def test_binary_values_read_as_json_are_bytes_as_moto_parses_them() -> None:
    parse_requests_as_json()
    handler = DynamoHandler()
    request = {
        "TableName": "t",
        "Item": {
            "b": {"B": base64.b64encode(b"\x00\xff").decode()},
            "bs": {"BS": [base64.b64encode(b"\x01").decode()]},
            "m": {"M": {"B": {"S": "a map attribute named B"}, "BS": {"N": "1"}}},
        },
        "ExpressionAttributeNames": {"#B": "B"},
    }

    handler.parse_parameters(SimpleNamespace(data=json.dumps(request).encode()))

    assert handler.params == {
        "TableName": "t",
        "Item": {
            "b": {"B": b"\x00\xff"},
            "bs": {"BS": [b"\x01"]},
            "m": {"M": {"B": {"S": "a map attribute named B"}, "BS": {"N": "1"}}},
        },
        "ExpressionAttributeNames": {"#B": "B"},
    }
