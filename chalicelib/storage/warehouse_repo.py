"""Lots, adjustment documents and hold listings in the main table (the core's WarehouseStore, 001).

Writes are added to the caller's unit of work, so a lot or a document commits
with the stock changes it explains (`storage/transaction.Transaction`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.core.ids import utcnow
from chalicelib.core.models import Actor, ClaimStatus, Hold, Lot, LotStatus
from chalicelib.core.ports import UnitOfWork
from chalicelib.core.stock.adjustments import Adjustment
from chalicelib.storage import keys
from chalicelib.storage.codec import record_item, to_attrs, to_record
from chalicelib.storage.dynamo import batch_get, ddb, query_all
from chalicelib.storage.transaction import Meaning, Role, own


def _expiry(lot: Lot) -> str:
    return lot.expiry_date.isoformat() if lot.expiry_date else "-"


class DynamoWarehouseStore:
    def __init__(self, table: str) -> None:
        self._table = table

    # -- lots --------------------------------------------------------------

    def _lot_item(self, lot: Lot, actor: Actor) -> dict[str, Any]:
        t = lot.tenant_id
        item_keys = {**keys.lot(t, lot.lot_id), **keys.lots_by_status(t, lot.status, _expiry(lot), lot.lot_id)}
        if lot.status == LotStatus.ACTIVE and lot.expiry_date is not None:
            item_keys.update(keys.lot_expiry(t, _expiry(lot), lot.lot_id))
        return record_item(lot, item_keys, "lot", lot.lot_id, actor, lot.lot_number)

    def add_new_lot(self, lot: Lot, actor: Actor, uow: UnitOfWork) -> None:
        tx, mine = own(uow)
        put = {
            "TableName": self._table,
            "Item": self._lot_item(lot, actor),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        tx.add({"Put": put}, Meaning(Role.NEW, "lot", lot.lot_id, field="lotNumber", value=lot.lot_number))
        if mine:
            tx.commit()

    def add_lot_status(self, lot: Lot, status: LotStatus, actor: Actor, uow: UnitOfWork) -> None:
        tx, mine = own(uow)
        moved = lot.model_copy(update={"status": status, "version": lot.version + 1, "updated_at": utcnow()})
        put = {
            "TableName": self._table,
            "Item": self._lot_item(moved, actor),
            "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": to_attrs({":v": Decimal(lot.version)}),
        }
        tx.add({"Put": put}, Meaning(Role.VERSION, "lot", lot.lot_id, field="lotIds"))
        if mine:
            tx.commit()

    def get_lots(self, tenant_id: str, lot_ids: Iterable[str]) -> dict[str, Lot]:
        wanted = [to_attrs(keys.lot(tenant_id, i)) for i in dict.fromkeys(lot_ids)]
        if not wanted:
            return {}
        found = [to_record(Lot, item) for item in batch_get(self._table, wanted)]
        return {lot.lot_id: lot for lot in found}

    def lots_expiring_before(self, tenant_id: str, day: date) -> list[Lot]:
        items = query_all(
            self._table,
            IndexName="gsi3",
            KeyConditionExpression="gsi3pk = :pk AND gsi3sk < :before",
            ExpressionAttributeValues=to_attrs(
                {":pk": keys.lot_expiry_partition(tenant_id), ":before": day.isoformat()}
            ),
        )
        return [to_record(Lot, item) for item in items]

    def lots_with_status(self, tenant_id: str, status: LotStatus) -> list[Lot]:
        items = query_all(
            self._table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk AND begins_with(gsi1sk, :prefix)",
            ExpressionAttributeValues=to_attrs(
                {":pk": keys.lots_by_status_partition(tenant_id), ":prefix": f"{status.value}#"}
            ),
        )
        return [to_record(Lot, item) for item in items]

    # -- adjustment documents ----------------------------------------------

    def add_adjustment(self, document: Adjustment, actor: Actor, uow: UnitOfWork) -> None:
        tx, mine = own(uow)
        t = document.tenant_id
        item_keys = {
            **keys.adjustment(t, document.adjustment_id),
            **keys.adjustment_by_time(t, document.kind, document.created_at, document.adjustment_id),
        }
        item = record_item(document, item_keys, "adjustment", document.adjustment_id, actor, document.reason_code)
        put = {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
        tx.add({"Put": put}, Meaning(Role.COMMAND, "adjustment", document.adjustment_id))
        if mine:
            tx.commit()

    def get_adjustment(self, tenant_id: str, adjustment_id: str) -> Adjustment | None:
        item = (
            ddb()
            .get_item(
                TableName=self._table, Key=to_attrs(keys.adjustment(tenant_id, adjustment_id)), ConsistentRead=True
            )
            .get("Item")
        )
        return to_record(Adjustment, item) if item else None

    def list_adjustments(self, tenant_id: str, kind: str) -> list[Adjustment]:
        items = query_all(
            self._table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=to_attrs({":pk": keys.adjustments_partition(tenant_id, kind)}),
            ScanIndexForward=False,
        )
        return [to_record(Adjustment, item) for item in items]

    # -- holds -------------------------------------------------------------

    def list_holds(self, tenant_id: str) -> list[Hold]:
        items = query_all(
            self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_attrs({":pk": keys.hold(tenant_id, "")["pk"]}),
            ConsistentRead=True,
        )
        return [to_record(Hold, item) for item in items]

    def expiring_holds(self, tenant_id: str, before: datetime) -> list[Hold]:
        items = query_all(
            self._table,
            IndexName="gsi3",
            KeyConditionExpression="gsi3pk = :pk AND gsi3sk < :before",
            ExpressionAttributeValues=to_attrs({":pk": keys.expiring_holds(tenant_id), ":before": keys.stamp(before)}),
        )
        return [h for h in (to_record(Hold, item) for item in items) if h.status == ClaimStatus.ACTIVE]
