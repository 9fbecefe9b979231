"""The storage unit of work (storage/transaction.py) against moto, with its ClientRequestToken semantics."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.core.errors import AlreadyExists, DuplicateCommand, StaleVersion, TooManyWrites
from chalicelib.core.ids import new_id
from chalicelib.storage.aws import client
from chalicelib.storage.transaction import Meaning, Role, Transaction
from tests.integration.lost_responses import losing


def _key(tenant: str, sk: str = "C") -> dict[str, Any]:
    return {"pk": {"S": f"T#{tenant}#TEST"}, "sk": {"S": sk}}


def _bump(table: str, key: dict[str, Any]) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": table,
            "Key": key,
            "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }


def _put_new(table: str, key: dict[str, Any], **attrs: str) -> dict[str, Any]:
    item = {**key, **{name: {"S": value} for name, value in attrs.items()}}
    return {"Put": {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}


def _n(table: str, key: dict[str, Any]) -> int:
    item = client("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    return int(item["n"]["N"]) if item else 0


def test_a_lost_response_is_sent_again_with_its_token_and_reported_as_the_success_it_was(table: str) -> None:
    key = _key(new_id())
    tx = Transaction()
    tx.add(_bump(table, key), Meaning(Role.PLAIN))

    with losing(lambda number, _: number == 0) as losses:
        tx.commit()

    assert losses.lost == 1
    assert [call["ClientRequestToken"] for call in losses.calls] == [tx.token, tx.token]
    # Applied once: the retry was answered from the token, not run again.
    assert _n(table, key) == 1


def test_without_token_semantics_the_same_retry_would_apply_twice(table: str) -> None:
    # What moto did before, and what the import and the reserves suffered from.
    key = _key(new_id())
    tx = Transaction()
    tx.add(_bump(table, key), Meaning(Role.PLAIN))

    with losing(lambda number, _: number == 0, forget_tokens=True):
        tx.commit()

    assert _n(table, key) == 2


def test_a_call_lost_before_it_ran_is_simply_run_by_the_retry(table: str) -> None:
    key = _key(new_id())
    tx = Transaction()
    tx.add(_put_new(table, key, v="x"), Meaning(Role.NEW, "thing", "x"))
    sent = {"n": 0}
    ddb = client("dynamodb")
    real = ddb.transact_write_items

    def drop_first(**request: Any) -> Any:
        sent["n"] += 1
        if sent["n"] == 1:
            from botocore.exceptions import EndpointConnectionError

            raise EndpointConnectionError(endpoint_url="http://dynamodb.test")
        return real(**request)

    ddb.transact_write_items = drop_first
    try:
        tx.commit()
    finally:
        del ddb.transact_write_items

    assert sent["n"] == 2
    assert client("dynamodb").get_item(TableName=table, Key=key)["Item"]["v"] == {"S": "x"}


def test_more_than_a_hundred_items_is_too_many_writes_before_any_call(table: str, calls: list[str]) -> None:
    tenant = new_id()
    tx = Transaction()
    for n in range(60):
        tx.add(_put_new(table, _key(tenant, f"R{n}")), Meaning(Role.NEW, "stock records"))
    for n in range(41):
        tx.add(_put_new(table, _key(tenant, f"L{n}")), Meaning(Role.NEW, "ledger lines"))

    with pytest.raises(TooManyWrites) as raised:
        tx.commit()

    assert calls == []
    assert "101 writes" in raised.value.message
    assert "60 stock records, 41 ledger lines" in raised.value.message
    assert raised.value.details[0]["field"] == "body"


def test_two_writes_of_one_item_are_refused_before_any_call(table: str, calls: list[str]) -> None:
    key = _key(new_id())
    tx = Transaction()
    tx.add(_bump(table, key), Meaning(Role.PLAIN))
    tx.add(_put_new(table, key), Meaning(Role.NEW))

    with pytest.raises(ValueError, match="once"):
        tx.commit()
    assert calls == []


def test_a_transaction_commits_once(table: str) -> None:
    tx = Transaction()
    tx.add(_bump(table, _key(new_id())), Meaning(Role.PLAIN))
    tx.commit()

    with pytest.raises(RuntimeError):
        tx.commit()
    with pytest.raises(RuntimeError):
        tx.add(_bump(table, _key(new_id())), Meaning(Role.PLAIN))


def test_a_command_rebuilt_after_its_transaction_committed_is_a_duplicate_command(table: str) -> None:
    key = _key(new_id())
    first = Transaction("idem-command-1")
    first.add(_put_new(table, key, at="10:00:00.000001"), Meaning(Role.NEW, "thing", "x"))
    first.commit()
    # The same command again (a client's retry after a 500): the same keys, new timestamps.
    again = Transaction("idem-command-1")
    again.add(_put_new(table, key, at="10:00:01.000002"), Meaning(Role.NEW, "thing", "x"))

    assert again.token == first.token
    with pytest.raises(DuplicateCommand):
        again.commit()
    assert client("dynamodb").get_item(TableName=table, Key=key)["Item"]["at"] == {"S": "10:00:00.000001"}


def test_the_transactions_of_one_command_have_tokens_of_their_own(table: str) -> None:
    tenant = new_id()
    products, records = Transaction("idem-command-2"), Transaction("idem-command-2")
    products.add(_put_new(table, _key(tenant, "PRODUCT")), Meaning(Role.NEW))
    records.add(_put_new(table, _key(tenant, "RECORD")), Meaning(Role.NEW))

    products.commit()
    records.commit()

    assert products.token != records.token


def test_a_cancellation_is_explained_by_the_role_that_comes_first(table: str) -> None:
    tenant = new_id()
    guard, entity = _key(tenant, "GUARD"), _key(tenant, "ENTITY")
    setup = Transaction()
    setup.add(_put_new(table, guard, target="other"), Meaning(Role.PLAIN))
    setup.add(_put_new(table, entity, version="1"), Meaning(Role.PLAIN))
    setup.commit()

    stale = {
        "Put": {
            "TableName": table,
            "Item": {**entity, "version": {"S": "3"}},
            "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": {":v": {"S": "2"}},
        }
    }
    both = Transaction()
    both.add(stale, Meaning(Role.VERSION, "order", "o1", field="[0].version"))
    both.add(_put_new(table, guard), Meaning(Role.GUARD, "order", "o1", field="[0].orderReference", value="SO-1"))
    with pytest.raises(AlreadyExists) as taken:
        both.commit()
    assert taken.value.details == [{"field": "[0].orderReference", "message": "SO-1 is already in use"}]

    only_stale = Transaction()
    only_stale.add(stale, Meaning(Role.VERSION, "order", "o1", field="[0].version"))
    with pytest.raises(StaleVersion) as changed:
        only_stale.commit()
    assert changed.value.details == [{"field": "[0].version", "message": "changed since it was read"}]


def test_botocores_own_retry_after_a_lost_answer_is_answered_from_the_token(table: str) -> None:
    from tests.integration.lost_responses import losing_on_the_wire

    key = _key(new_id())
    tx = Transaction()
    tx.add(_bump(table, key), Meaning(Role.PLAIN))

    with losing_on_the_wire("TransactWriteItems") as losses:
        tx.commit()

    # Two sends of one call (botocore retried it), one write.
    assert (losses.lost, len(losses.calls)) == (1, 2)
    assert _n(table, key) == 1
