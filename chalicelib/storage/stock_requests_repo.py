"""Stock requests (001) in the main table: `pk=T#t#STOCKREQUEST, sk=<id>` (storage/workitems), numbered
from the atomic counter `T#t#SEQ / stock-request` (one UpdateItem ADD)."""

from __future__ import annotations

from chalicelib.features.stock_requests import StockRequest
from chalicelib.storage.listing import next_number
from chalicelib.storage.workitems import DynamoWorkItems


class DynamoStockRequestStore(DynamoWorkItems[StockRequest]):
    def __init__(self, table: str) -> None:
        super().__init__(table, "STOCKREQUEST", StockRequest, "request_id", "stockRequest")

    def next_number(self, tenant_id: str) -> int:
        return next_number(self._table, tenant_id, "stock-request")
