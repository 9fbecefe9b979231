"""Members of one string set added several times in one transaction merge into ONE Update.

DynamoDB refuses two actions on one item in a TransactWriteItems; a transaction that creates several
records of one product adds each record's key to the product's stock keys (keys.product_stock), so the
additions must become one ADD, and count once toward the 100 items.
"""

from __future__ import annotations

import pytest

from chalicelib.storage.transaction import Meaning, Role, Transaction

pytestmark = pytest.mark.disable_socket

MEANING = Meaning(Role.PLAIN, "product stock keys")


def key(product: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": "T#t#PRODUCTSTOCK"}, "sk": {"S": product}}


def test_members_of_one_item_merge_into_one_update_and_other_items_get_their_own() -> None:
    tx = Transaction()
    tx.add_set_member("main", key("P1"), "stock_ids", "s-1", MEANING)
    tx.add_set_member("main", key("P2"), "stock_ids", "s-2", MEANING)
    tx.add_set_member("main", key("P1"), "stock_ids", "s-3", MEANING)
    tx.add_set_member("main", key("P1"), "stock_ids", "s-3", MEANING)

    assert len(tx) == 2
    updates = [item["Update"] for item in tx._items]
    assert [u["Key"]["sk"]["S"] for u in updates] == ["P1", "P2"]
    assert updates[0]["UpdateExpression"] == "ADD #set :members"
    assert updates[0]["ExpressionAttributeValues"][":members"] == {"SS": ["s-1", "s-3"]}
    assert updates[1]["ExpressionAttributeValues"][":members"] == {"SS": ["s-2"]}
    # No condition: concurrent transactions adding to one product's keys never fail each other's checks.
    assert all("ConditionExpression" not in u for u in updates)
    tx._check()  # one action per item: DynamoDB would accept it


GUARD = {"ConditionCheck": {"TableName": "main", "Key": {"pk": {"S": "T#t#STOCK"}, "sk": {"S": "s-9"}}}}


def test_removals_of_one_item_merge_into_one_delete() -> None:
    tx = Transaction()
    tx.remove_set_member("main", key("P1"), "stock_ids", "s-1", MEANING, entity_type="productStock")
    tx.remove_set_member("main", key("P1"), "stock_ids", "s-2", MEANING, entity_type="productStock")
    tx.add_set_member("main", key("P2"), "stock_ids", "s-1", MEANING, entity_type="productStock")

    assert len(tx) == 2
    old, new = (item["Update"] for item in tx._items)
    assert old["UpdateExpression"] == "DELETE #set :gone SET #entity = :entity"
    assert old["ExpressionAttributeValues"][":gone"] == {"SS": ["s-1", "s-2"]}
    assert new["UpdateExpression"] == "ADD #set :members SET #entity = :entity"
    assert "ConditionExpression" not in old
    assert tx.deferred == []
    tx._check()


def test_an_add_and_a_removal_on_one_item_keep_one_update_and_the_removal_waits_for_the_commit() -> None:
    # DynamoDB refuses ADD and DELETE of one set in one expression, and one item twice in a transaction.
    for order in ("remove first", "add first"):
        tx = Transaction()
        if order == "remove first":
            tx.remove_set_member("main", key("P1"), "stock_ids", "s-9", MEANING, guard=GUARD)
            tx.add_set_member("main", key("P1"), "stock_ids", "s-1", MEANING)
        else:
            tx.add_set_member("main", key("P1"), "stock_ids", "s-1", MEANING)
            tx.remove_set_member("main", key("P1"), "stock_ids", "s-9", MEANING, guard=GUARD)

        assert len(tx) == 1
        (update,) = (item["Update"] for item in tx._items)
        assert update["UpdateExpression"] == "ADD #set :members"
        assert update["ExpressionAttributeValues"] == {":members": {"SS": ["s-1"]}}
        tx._check()
        # After the commit: the removal, guarded (the record has not come back meanwhile).
        (follow_up,) = tx.deferred
        guard, delete = follow_up["TransactItems"]
        assert guard == GUARD
        assert delete["Update"]["UpdateExpression"] == "DELETE #set :gone"
        assert delete["Update"]["ExpressionAttributeValues"] == {":gone": {"SS": ["s-9"]}}
        assert delete["Update"]["Key"] == key("P1")


def test_the_later_of_an_add_and_a_removal_of_one_member_wins() -> None:
    tx = Transaction()
    tx.add_set_member("main", key("P1"), "stock_ids", "s-1", MEANING)
    tx.remove_set_member("main", key("P1"), "stock_ids", "s-1", MEANING)
    (update,) = (item["Update"] for item in tx._items)
    assert update["UpdateExpression"] == "DELETE #set :gone"
    assert update["ExpressionAttributeValues"] == {":gone": {"SS": ["s-1"]}}

    tx.add_set_member("main", key("P1"), "stock_ids", "s-1", MEANING)
    (update,) = (item["Update"] for item in tx._items)
    assert update["UpdateExpression"] == "ADD #set :members"
    assert update["ExpressionAttributeValues"] == {":members": {"SS": ["s-1"]}}
    assert tx.deferred == []
