"""The compact item store (infra/compact_items.py) answers every DynamoDB request as moto's own items do.

The same requests go to two tables of the same definition, one kept by moto
as shipped and one compact; every answer must be the same. (The local stack
runs every table compact; the rest of this tier keeps moto's own items.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.storage.aws import client
from infra.compact_items import CompactItems, compact

TABLES = ("plain-t", "compact-t")


@pytest.fixture
def dynamodb(aws: None) -> Iterator[Any]:
    from moto.dynamodb.models import dynamodb_backends

    ddb = client("dynamodb")
    for name in TABLES:
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g")],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "gsi",
                    "KeySchema": [
                        {"AttributeName": "g", "KeyType": "HASH"},
                        {"AttributeName": "sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
    (backend,) = [
        b[ddb.meta.region_name] for b in dynamodb_backends.values() if TABLES[1] in b[ddb.meta.region_name].tables
    ]
    compact(backend.tables[TABLES[1]])
    assert isinstance(backend.tables[TABLES[1]].items, CompactItems)
    assert not isinstance(backend.tables[TABLES[0]].items, CompactItems)
    yield ddb


def both(call: Any, **request: Any) -> Any:
    """Send the request to both tables; the answers (or errors) must be the same."""
    answers = []
    for name in TABLES:
        body = _renamed(request, name)
        try:
            answer = call(**body)
            answer.pop("ResponseMetadata", None)
            answers.append(_renamed(answer, "T"))
        except ClientError as error:
            answers.append(("error", error.response["Error"]["Code"], str(error.response.get("CancellationReasons"))))
    assert answers[0] == answers[1]
    return answers[1]


def _renamed(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        return {k: (name if k == "TableName" else _renamed(v, name)) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, name) for v in value]
    if isinstance(value, str) and value in TABLES:
        return name
    return value


def item(pk: str, sk: str, **extra: Any) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **extra}


def test_every_request_answers_as_moto_does(dynamodb: Any) -> None:
    ddb = dynamodb
    for n in range(120):
        both(
            ddb.put_item,
            TableName="plain-t",
            Item=item(
                f"p{n % 4}",
                f"s{n:03}",
                g={"S": f"g{n % 3}"},
                qty={"N": str(n)},
                bin={"B": bytes([n % 256, 0])},
                tags={"SS": ["a", f"t{n % 5}"]},
                m={"M": {"l": {"L": [{"N": "1.50"}, {"NULL": True}, {"BOOL": n % 2 == 0}]}}},
            ),
        )
    key = {"pk": {"S": "p1"}, "sk": {"S": "s001"}}
    both(ddb.get_item, TableName="plain-t", Key=key)
    both(ddb.get_item, TableName="plain-t", Key={"pk": {"S": "nope"}, "sk": {"S": "x"}})
    both(
        ddb.update_item,
        TableName="plain-t",
        Key=key,
        UpdateExpression="SET qty = qty + :d, m.l[0] = :n ADD tags :t REMOVE bin",
        ExpressionAttributeValues={":d": {"N": "10"}, ":n": {"N": "7"}, ":t": {"SS": ["new"]}},
        ReturnValues="ALL_NEW",
    )
    both(ddb.get_item, TableName="plain-t", Key=key)  # the update was kept
    both(
        ddb.update_item,
        TableName="plain-t",
        Key={"pk": {"S": "p9"}, "sk": {"S": "upserted"}},
        UpdateExpression="SET qty = :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    both(
        ddb.put_item,
        TableName="plain-t",
        Item=item("p1", "s001"),
        ConditionExpression="attribute_not_exists(pk)",
    )
    both(
        ddb.query,
        TableName="plain-t",
        KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
        ExpressionAttributeValues={":p": {"S": "p2"}, ":a": {"S": "s010"}, ":b": {"S": "s090"}},
        ScanIndexForward=False,
    )
    page = both(
        ddb.query,
        TableName="plain-t",
        KeyConditionExpression="pk = :p",
        FilterExpression="qty > :q",
        ExpressionAttributeValues={":p": {"S": "p3"}, ":q": {"N": "50"}},
        Limit=7,
    )
    both(
        ddb.query,
        TableName="plain-t",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p3"}},
        ExclusiveStartKey=page["LastEvaluatedKey"],
    )
    both(
        ddb.query,
        TableName="plain-t",
        IndexName="gsi",
        KeyConditionExpression="g = :g AND begins_with(sk, :s)",
        ExpressionAttributeValues={":g": {"S": "g1"}, ":s": {"S": "s0"}},
    )
    both(
        ddb.scan,
        TableName="plain-t",
        FilterExpression="contains(tags, :t)",
        ExpressionAttributeValues={":t": {"S": "t2"}},
    )
    both(ddb.scan, TableName="plain-t", IndexName="gsi", Limit=10)
    both(
        ddb.batch_get_item,
        RequestItems={"plain-t": {"Keys": [key, {"pk": {"S": "p0"}, "sk": {"S": "s000"}}]}},
    )
    # A transaction that fails puts everything back; one that succeeds keeps everything.
    failing = [
        {"Put": {"TableName": "plain-t", "Item": item("p5", "new")}},
        {
            "Update": {
                "TableName": "plain-t",
                "Key": key,
                "UpdateExpression": "SET qty = :z",
                "ExpressionAttributeValues": {":z": {"N": "0"}},
            }
        },
        {"Delete": {"TableName": "plain-t", "Key": {"pk": {"S": "p0"}, "sk": {"S": "s004"}}}},
        {
            "ConditionCheck": {
                "TableName": "plain-t",
                "Key": {"pk": {"S": "p0"}, "sk": {"S": "s000"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
    ]
    both(ddb.transact_write_items, TransactItems=failing)
    both(ddb.transact_write_items, TransactItems=failing[:3])
    both(
        ddb.transact_get_items,
        TransactItems=[
            {"Get": {"TableName": "plain-t", "Key": k}} for k in (key, {"pk": {"S": "p5"}, "sk": {"S": "new"}})
        ],
    )
    both(ddb.delete_item, TableName="plain-t", Key={"pk": {"S": "p2"}, "sk": {"S": "s002"}}, ReturnValues="ALL_OLD")
    both(ddb.scan, TableName="plain-t")
    assert both(ddb.scan, TableName="plain-t", Select="COUNT")["Count"] == 120
    assert [ddb.describe_table(TableName=name)["Table"]["ItemCount"] for name in TABLES] == [120, 120]

    # The streams carry the same records, in the same order, with the same images.
    streams = client("dynamodbstreams")
    records = []
    for name in TABLES:
        arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        got = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
        records.append(
            [
                (r["eventName"], r["dynamodb"]["Keys"], r["dynamodb"].get("NewImage"), r["dynamodb"].get("OldImage"))
                for r in got
            ]
        )
    assert records[0] == records[1]
    assert len(records[1]) > 120


def test_queries_decode_only_their_own_items(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from infra import compact_items

    for n in range(200):
        dynamodb.put_item(TableName="compact-t", Item=item(f"p{n % 10}", f"s{n:03}", g={"S": f"g{n % 20}"}))
    decoded = [0]
    decode_text = compact_items.Codec.decode_text

    def counting(codec: Any, text: bytes) -> Any:
        decoded[0] += 1
        return decode_text(codec, text)

    monkeypatch.setattr(compact_items.Codec, "decode_text", counting)
    by_index = dynamodb.query(
        TableName="compact-t",
        IndexName="gsi",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "g7"}},
    )
    assert len(by_index["Items"]) == 10 and decoded[0] == 10  # not the table's 200
    decoded[0] = 0
    by_key = dynamodb.query(
        TableName="compact-t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p3"}}
    )
    assert len(by_key["Items"]) == 20 and decoded[0] == 20
