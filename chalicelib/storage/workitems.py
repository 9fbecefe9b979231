"""Work items of the 001 workflows (cycle counts, put-away tasks, transfers, replenishment records and
configuration, stock requests): one item per document, `pk=T#t#<KIND>, sk=<id>`, written whole with a
version guard, in the caller's unit of work so a document commits with the stock changes it explains.

The per-feature repositories (`storage/<feature>_repo.py`) are this class with their kind and model.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Generic, TypeVar

from chalicelib.core.models import Actor, Entity
from chalicelib.core.ports import UnitOfWork
from chalicelib.storage import keys
from chalicelib.storage.codec import record_item, to_attrs, to_record
from chalicelib.storage.dynamo import batch_get, ddb, query_all
from chalicelib.storage.transaction import Meaning, Role, own

M = TypeVar("M", bound=Entity)


class DynamoWorkItems(Generic[M]):
    """Documents of one kind: create (`attribute_not_exists`), save (`version = :read`), get, list."""

    def __init__(self, table: str, kind: str, model: type[M], id_field: str, entity: str) -> None:
        self._table = table
        self._kind = kind
        self._model = model
        self._id_field = id_field
        self._entity = entity

    def _id(self, doc: M) -> str:
        return str(getattr(doc, self._id_field))

    def _item(self, doc: M, actor: Actor) -> dict[str, Any]:
        item_id = self._id(doc)
        return record_item(doc, keys.work_item(doc.tenant_id, self._kind, item_id), self._entity, item_id, actor)

    def add_new(self, doc: M, actor: Actor, uow: UnitOfWork) -> None:
        tx, mine = own(uow)
        put = {
            "TableName": self._table,
            "Item": self._item(doc, actor),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        tx.add({"Put": put}, Meaning(Role.NEW, self._entity, self._id(doc), field="id", value=self._id(doc)))
        if mine:
            tx.commit()

    def add_save(self, doc: M, read_version: int, actor: Actor, uow: UnitOfWork) -> None:
        """Write `doc` whole, guarded on the version it was read at (StaleVersion 409 when it moved)."""
        tx, mine = own(uow)
        put = {
            "TableName": self._table,
            "Item": self._item(doc, actor),
            "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": to_attrs({":v": Decimal(read_version)}),
        }
        tx.add({"Put": put}, Meaning(Role.VERSION, self._entity, self._id(doc), field="id"))
        if mine:
            tx.commit()

    def add_delete(self, doc: M, actor: Actor, uow: UnitOfWork) -> None:
        """Remove `doc`, guarded on the version read."""
        tx, mine = own(uow)
        delete = {
            "TableName": self._table,
            "Key": to_attrs(keys.work_item(doc.tenant_id, self._kind, self._id(doc))),
            "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": to_attrs({":v": Decimal(doc.version)}),
        }
        tx.add({"Delete": delete}, Meaning(Role.VERSION, self._entity, self._id(doc), field="id"))
        if mine:
            tx.commit()

    def get(self, tenant_id: str, item_id: str) -> M | None:
        key = to_attrs(keys.work_item(tenant_id, self._kind, item_id))
        item = ddb().get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        return to_record(self._model, item) if item else None

    def get_many(self, tenant_id: str, item_ids: list[str]) -> dict[str, M]:
        wanted = [to_attrs(keys.work_item(tenant_id, self._kind, i)) for i in dict.fromkeys(item_ids)]
        found = [to_record(self._model, item) for item in batch_get(self._table, wanted)] if wanted else []
        return {self._id(doc): doc for doc in found}

    def list_all(self, tenant_id: str) -> list[M]:
        """Every document of the kind (one Query of its partition, consistent)."""
        items = query_all(
            self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_attrs({":pk": keys.work_items_partition(tenant_id, self._kind)}),
            ConsistentRead=True,
        )
        return [to_record(self._model, item) for item in items]
