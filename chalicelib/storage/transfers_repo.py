"""Transfers (001) in the main table: `pk=T#t#TRANSFER, sk=<transfer id>` (storage/workitems)."""

from __future__ import annotations

from chalicelib.features.transfers import Transfer
from chalicelib.storage.workitems import DynamoWorkItems


def transfer_store(table: str) -> DynamoWorkItems[Transfer]:
    return DynamoWorkItems(table, "TRANSFER", Transfer, "transfer_id", "transfer")
