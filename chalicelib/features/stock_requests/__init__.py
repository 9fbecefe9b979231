"""Stock requests (001): one location asks another for stock, with an approval workflow
(`core/workflows.STOCK_REQUEST`) whose approval reserves and whose fulfilment moves the stock."""

from chalicelib.features.stock_requests.model import Priority, RequestLine, StockRequest, StockRequestStore
from chalicelib.features.stock_requests.service import MAX_LINES, LineIn, RequestFilter, StockRequestService

__all__ = [
    "MAX_LINES",
    "LineIn",
    "Priority",
    "RequestFilter",
    "RequestLine",
    "StockRequest",
    "StockRequestService",
    "StockRequestStore",
]
