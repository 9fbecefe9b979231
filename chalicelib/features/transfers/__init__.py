"""Transfers (001): stock moved between bins at once, or between locations through in-transit stock.

`TransferService` holds the rules; the state machine is `core/workflows.TRANSFER`.
"""

from chalicelib.features.transfers.model import Transfer, TransferLine, TransferPick
from chalicelib.features.transfers.service import MAX_LINES, LineIn, TransferFilter, TransferService

__all__ = [
    "MAX_LINES",
    "LineIn",
    "Transfer",
    "TransferFilter",
    "TransferLine",
    "TransferPick",
    "TransferService",
]
