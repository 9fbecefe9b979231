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
