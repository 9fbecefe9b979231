"""Cycle count batches (001) in the main table: `pk=T#t#CYCLECOUNT, sk=<batch id>` (storage/workitems),
and the ledger by time for ABC classes (through `ledger_reader.DynamoLedgerReader`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from chalicelib.core.models import Movement
from chalicelib.features.cycle_counts import CycleCount
from chalicelib.storage.ledger_reader import DynamoLedgerReader
from chalicelib.storage.workitems import DynamoWorkItems


class DynamoCycleCountStore(DynamoWorkItems[CycleCount]):
    def __init__(self, table: str) -> None:
        super().__init__(table, "CYCLECOUNT", CycleCount, "batch_id", "cycleCount")

    def movements_between(self, tenant_id: str, start: datetime, end: datetime) -> Iterator[Movement]:
        return DynamoLedgerReader(self._table).movements_between(tenant_id, start, end)
