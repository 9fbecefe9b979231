"""The people of a company in the main table.

`pk=T#t#USER, sk=<user id>`; the email guard `T#t#UNIQUE / EMAIL#<casefolded>`
and the listing's counter are written in the same transaction as the user.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core.models import Actor
from chalicelib.core.ports import OffsetPage
from chalicelib.core.tenancy.users import User, normal_email
from chalicelib.storage import keys
from chalicelib.storage.codec import record_item, to_attrs, to_record
from chalicelib.storage.dynamo import ddb
from chalicelib.storage.listing import Listing, add_counters, offset_page
from chalicelib.storage.transaction import Meaning, Role, Transaction


def user_listing(tenant_id: str) -> Listing:
    return Listing(tenant_id, "user")


class DynamoUserStore:
    def __init__(self, table: str) -> None:
        self._table = table

    def create_user(self, user: User, actor: Actor) -> None:
        t = user.tenant_id
        item_keys = {
            **keys.user(t, user.user_id),
            **user_listing(t).entry(keys.created_sort(user.created_at, user.user_id)),
        }
        guard = {**keys.unique(t, "EMAIL", normal_email(user.email)), "target_id": user.user_id, "entity_type": "guard"}
        tx = Transaction()
        item = record_item(user, item_keys, "user", user.user_id, actor, user.name)
        tx.add(self._put_new(item), Meaning(Role.NEW, "user", user.user_id))
        taken = Meaning(Role.GUARD, "user", user.user_id, field="email", value=user.email)
        tx.add(self._put_new(to_attrs(guard)), taken)
        add_counters(tx, self._table, {user_listing(t): 1})
        tx.commit()

    def get_user(self, tenant_id: str, user_id: str) -> User | None:
        item = ddb().get_item(TableName=self._table, Key=to_attrs(keys.user(tenant_id, user_id)), ConsistentRead=True)
        return to_record(User, item["Item"]) if "Item" in item else None

    def user_id_by_email(self, tenant_id: str, email: str) -> str | None:
        key = to_attrs(keys.unique(tenant_id, "EMAIL", normal_email(email)))
        item = ddb().get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        return str(item["target_id"]["S"]) if item else None

    def page_users(self, tenant_id: str, offset: int, limit: int) -> OffsetPage[User]:
        page = offset_page(self._table, user_listing(tenant_id), offset, limit)
        return OffsetPage([to_record(User, item) for item in page.items], page.total or 0)

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}
