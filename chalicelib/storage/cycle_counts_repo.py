"""Cycle count batches (001) in the main table: `pk=T#t#CYCLECOUNT, sk=<batch id>` (storage/workitems),
and the ledger by time for ABC classes (gsi1 `T#t#LEDGER`, `gsi1sk = <stamp>#<movement id>`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from chalicelib.core.models import Movement
from chalicelib.features.cycle_counts import CycleCount
from chalicelib.storage import keys
from chalicelib.storage.codec import to_attrs, to_record
from chalicelib.storage.dynamo import query_all
from chalicelib.storage.workitems import DynamoWorkItems


class DynamoCycleCountStore(DynamoWorkItems[CycleCount]):
    def __init__(self, table: str) -> None:
        super().__init__(table, "CYCLECOUNT", CycleCount, "batch_id", "cycleCount")

    def movements_between(self, tenant_id: str, start: datetime, end: datetime) -> Iterator[Movement]:
        items = query_all(
            self._table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk AND gsi1sk BETWEEN :start AND :end",
            ExpressionAttributeValues=to_attrs(
                {
                    ":pk": keys.movement_by_time(tenant_id, start, "")["gsi1pk"],
                    ":start": keys.stamp(start),
                    ":end": f"{keys.stamp(end)}#~",
                }
            ),
        )
        return (to_record(Movement, item) for item in items)
