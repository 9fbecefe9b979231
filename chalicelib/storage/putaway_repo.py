"""Put-away tasks (001) in the main table: `pk=T#t#PUTAWAY, sk=<task id>` (storage/workitems)."""

from __future__ import annotations

from chalicelib.features.putaway import PutAwayTask
from chalicelib.storage.workitems import DynamoWorkItems


def putaway_store(table: str) -> DynamoWorkItems[PutAwayTask]:
    return DynamoWorkItems(table, "PUTAWAY", PutAwayTask, "task_id", "putAwayTask")
