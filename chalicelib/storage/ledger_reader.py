"""The tenant's ledger in time order, read from gsi1 `T#t#LEDGER` (`gsi1sk = <stamp>#<movement id>`,
written with every movement by `DynamoStockStore._movement_item`). One reader for 001 analytics and
the cycle counts' ABC classes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from chalicelib.core.models import Movement
from chalicelib.storage import keys
from chalicelib.storage.codec import to_attrs, to_record
from chalicelib.storage.dynamo import query_all


class DynamoLedgerReader:
    """The tenant's ledger in time order, from gsi1 `T#t#LEDGER` (written with every movement)."""

    def __init__(self, table: str) -> None:
        self._table = table

    def movements_until(self, tenant_id: str, end: datetime) -> Iterator[Movement]:
        """Every ledger line up to `end` (analytics)."""
        return self._by_time(tenant_id, None, end)

    def movements_between(self, tenant_id: str, start: datetime, end: datetime) -> Iterator[Movement]:
        """The ledger lines from `start` to `end` (ABC classes)."""
        return self._by_time(tenant_id, start, end)

    def _by_time(self, tenant_id: str, start: datetime | None, end: datetime) -> Iterator[Movement]:
        # gsi1sk = <stamp>#<movement id>: "~" sorts after every id, so the whole last instant is in.
        values = {":pk": keys.ledger_by_time_partition(tenant_id), ":end": f"{keys.stamp(end)}#~"}
        if start is None:
            condition = "gsi1pk = :pk AND gsi1sk <= :end"
        else:
            condition = "gsi1pk = :pk AND gsi1sk BETWEEN :start AND :end"
            values[":start"] = keys.stamp(start)
        items = query_all(
            self._table,
            IndexName="gsi1",
            KeyConditionExpression=condition,
            ExpressionAttributeValues=to_attrs(values),
        )
        return (to_record(Movement, item) for item in items)
