"""Cycle counts (001): batches with expected quantities snapshotted, blind counting, ABC classes from the
ledger, and resolution that applies counted - expected-at-snapshot as CYCLE_COUNT adjustments."""

from chalicelib.features.cycle_counts.abc import FREQUENCY_DAYS, classify, outbound_quantities
from chalicelib.features.cycle_counts.model import CountLine, CycleCount, CycleCountStore
from chalicelib.features.cycle_counts.service import MAX_LINES, CycleCountService, LineIn

__all__ = [
    "FREQUENCY_DAYS",
    "MAX_LINES",
    "CountLine",
    "CycleCount",
    "CycleCountService",
    "CycleCountStore",
    "LineIn",
    "classify",
    "outbound_quantities",
]
