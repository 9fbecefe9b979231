"""The ClientRequestToken patch (infra/moto_tokens.py) gives moto DynamoDB's documented semantics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.core.ids import new_id
from chalicelib.storage.aws import client


@pytest.fixture
def counter(table: str) -> Iterator[dict[str, Any]]:
    key = {"pk": {"S": f"T#{new_id()}#COUNTER"}, "sk": {"S": "C"}}
    client("dynamodb").put_item(TableName=table, Item={**key, "n": {"N": "0"}})
    yield key


def _bump(table: str, key: dict[str, Any], by: int, token: str, at_most: int = 100) -> dict[str, Any]:
    return client("dynamodb").transact_write_items(  # type: ignore[no-any-return]
        ClientRequestToken=token,
        TransactItems=[
            {
                "Update": {
                    "TableName": table,
                    "Key": key,
                    "UpdateExpression": "SET n = n + :by",
                    "ConditionExpression": "n <= :max",
                    "ExpressionAttributeValues": {":by": {"N": str(by)}, ":max": {"N": str(at_most)}},
                }
            }
        ],
    )


def _n(table: str, key: dict[str, Any]) -> int:
    item = client("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    return int(item["n"]["N"])


def test_the_same_token_and_request_again_succeeds_without_writing(table: str, counter: dict[str, Any]) -> None:
    token = new_id()

    _bump(table, counter, 1, token)
    _bump(table, counter, 1, token)

    assert _n(table, counter) == 1
    _bump(table, counter, 1, new_id())
    assert _n(table, counter) == 2


def test_the_same_token_with_another_request_is_a_parameter_mismatch(table: str, counter: dict[str, Any]) -> None:
    token = new_id()
    _bump(table, counter, 1, token)

    with pytest.raises(ClientError) as raised:
        _bump(table, counter, 5, token)

    assert raised.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert _n(table, counter) == 1


def test_a_cancelled_transaction_is_not_remembered(table: str, counter: dict[str, Any]) -> None:
    token = new_id()
    with pytest.raises(ClientError) as raised:
        _bump(table, counter, 1, token, at_most=-1)
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"

    # The retry is evaluated again, and this time its condition holds.
    _bump(table, counter, 1, token)

    assert _n(table, counter) == 1


def test_a_token_is_forgotten_after_its_window(
    table: str, counter: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from infra import moto_tokens

    token = new_id()
    _bump(table, counter, 1, token)
    monkeypatch.setattr(moto_tokens, "WINDOW_SECONDS", -1.0)

    _bump(table, counter, 1, token)

    assert _n(table, counter) == 2


def test_only_the_tokens_older_than_the_window_are_forgotten() -> None:
    from collections import OrderedDict

    from infra.moto_tokens import WINDOW_SECONDS, _forget_expired

    seen = OrderedDict([("a", ("fa", 0.0)), ("b", ("fb", 100.0)), ("c", ("fc", 700.0))])

    _forget_expired(seen, now=WINDOW_SECONDS + 150.0)

    assert list(seen) == ["c"]
    _forget_expired(seen, now=WINDOW_SECONDS + 700.0)
    assert list(seen) == ["c"]  # exactly the window's age: still remembered
