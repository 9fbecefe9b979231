"""The moto rollback patch (infra/moto_server.roll_back_by_item) in the integration tier:
a refused transaction leaves nothing behind."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.settings import get_settings
from chalicelib.storage.aws import client
from tests.integration.test_audit_stream import MainTableStream

pytestmark = pytest.mark.shared_aws


def item(pk: str, sk: str, **values: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"S": v} for k, v in values.items()}}


def read(pk: str, sk: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (
        client("dynamodb")
        .get_item(TableName=get_settings().main_table, Key=item(pk, sk), ConsistentRead=True)
        .get("Item")
    )
    return found


def test_a_refused_transaction_restores_every_item_and_adds_no_stream_record(aws: None) -> None:
    table = get_settings().main_table
    ddb = client("dynamodb")
    ddb.put_item(TableName=table, Item=item("T#x#A", "1", state="before"))
    ddb.put_item(TableName=table, Item=item("T#x#B", "1", state="taken"))
    stream = MainTableStream()
    stream.take()

    with pytest.raises(ddb.exceptions.TransactionCanceledException) as refused:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": item("T#x#A", "1"),
                        "UpdateExpression": "SET #s = :after",
                        "ExpressionAttributeNames": {"#s": "state"},
                        "ExpressionAttributeValues": {":after": {"S": "after"}},
                    }
                },
                {"Put": {"TableName": table, "Item": item("T#x#C", "1", state="new")}},
                {"Delete": {"TableName": table, "Key": item("T#x#D", "1")}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": item("T#x#B", "1", state="mine"),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )

    codes = [r["Code"] for r in refused.value.response["CancellationReasons"]]
    assert codes == ["None", "None", "None", "ConditionalCheckFailed"]
    assert read("T#x#A", "1") == item("T#x#A", "1", state="before")
    assert read("T#x#B", "1") == item("T#x#B", "1", state="taken")
    assert read("T#x#C", "1") is None
    assert stream.take() == []

    ddb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": item("T#x#C", "1", state="new")}}])
    assert [r["eventName"] for r in stream.take()] == ["INSERT"]
