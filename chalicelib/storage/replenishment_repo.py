"""Replenishment (001) in the main table.

- configuration: `pk=T#t#REPLCONFIG, sk=<product id>#<location id>` (one Query lists it, a key prefix
  narrows it to a product; never a Scan);
- records: `pk=T#t#REPLENISHMENT, sk=<record id>` (storage/workitems);
- the pair's open-record guard: `pk=T#t#UNIQUE, sk=OPENREPL#<product>#<location>` with `target_id`,
  Put `attribute_not_exists` in the record's transaction, Deleted (`target_id = :id`) in the one that
  closes it.
"""

from __future__ import annotations

from collections.abc import Iterator

from chalicelib.core.models import Actor
from chalicelib.core.ports import UnitOfWork
from chalicelib.features.replenishment import Replenishment, ReplenishmentConfig
from chalicelib.storage import keys
from chalicelib.storage.codec import record_item, to_attrs, to_record
from chalicelib.storage.dynamo import ddb, query_all
from chalicelib.storage.transaction import Meaning, Role, own
from chalicelib.storage.workitems import DynamoWorkItems

CONFIG = "REPLCONFIG"


class DynamoReplenishmentStore(DynamoWorkItems[Replenishment]):
    def __init__(self, table: str) -> None:
        super().__init__(table, "REPLENISHMENT", Replenishment, "record_id", "replenishment")

    def put_config(self, config: ReplenishmentConfig, actor: Actor) -> None:
        item_keys = keys.work_item(config.tenant_id, CONFIG, config.config_id)
        item = record_item(config, item_keys, "replenishmentConfig", config.config_id, actor)
        ddb().put_item(TableName=self._table, Item=item)

    def configs(self, tenant_id: str, product_id: str | None = None) -> Iterator[ReplenishmentConfig]:
        values = {":pk": keys.work_items_partition(tenant_id, CONFIG)}
        condition = "pk = :pk"
        if product_id is not None:
            values[":prefix"] = f"{product_id}#"
            condition += " AND begins_with(sk, :prefix)"
        items = query_all(self._table, KeyConditionExpression=condition, ExpressionAttributeValues=to_attrs(values))
        return (to_record(ReplenishmentConfig, item) for item in items)

    def add_open_guard(self, record: Replenishment, uow: UnitOfWork) -> None:
        tx, mine = own(uow)
        guard = keys.open_replenishment_guard(record.tenant_id, record.product_id, record.location_id)
        put = {
            "TableName": self._table,
            "Item": to_attrs({**guard, "target_id": record.record_id, "entity_type": "guard"}),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        meaning = Meaning(
            Role.GUARD, "replenishment", record.record_id, field="productMasterId", value=record.product_id
        )
        tx.add({"Put": put}, meaning)
        if mine:
            tx.commit()

    def add_guard_release(self, record: Replenishment, uow: UnitOfWork) -> None:
        tx, mine = own(uow)
        guard = keys.open_replenishment_guard(record.tenant_id, record.product_id, record.location_id)
        delete = {
            "TableName": self._table,
            "Key": to_attrs(guard),
            "ConditionExpression": "target_id = :id",
            "ExpressionAttributeValues": to_attrs({":id": record.record_id}),
        }
        tx.add({"Delete": delete}, Meaning(Role.VERSION, "replenishment", record.record_id, field="recordId"))
        if mine:
            tx.commit()
