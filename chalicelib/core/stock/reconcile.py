"""Reconciliation of stored balances with the ledger, as StockService offers it (`Reconciliation` mixin).

The arithmetic (snapshot + movements since, the difference) is core/stock/asof.py; the schedule that
runs it over every record and writes the daily snapshots is events/schedules.py.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from chalicelib.core.errors import NotFound
from chalicelib.core.models import ZERO, StockRecord
from chalicelib.core.ports import StockStore
from chalicelib.core.stock.asof import Reconciled, reconcile_record


class Reconciliation:
    """Mixin of StockService: does a record's stored on hand equal its ledger?"""

    _store: StockStore

    def reconcile_and_snapshot(self, tenant_id: str, record: StockRecord, cutoff: datetime) -> tuple[Reconciled, bool]:
        """Check the record's stored balance against its latest snapshot plus the movements since, and
        give its snapshot at `cutoff` (and whether it is new: a second run the same day writes nothing).

        A difference is checked once more from a fresh read of the record and its movements (a write
        between the listing and the ledger Query makes them disagree for a moment).
        """
        reconciled = self._reconciled(tenant_id, record, cutoff)
        if reconciled[0].difference != 0:
            reconciled = self._reconciled(tenant_id, self._fresh(tenant_id, record.stock_id), cutoff)
        return reconciled

    def _reconciled(self, tenant_id: str, record: StockRecord, cutoff: datetime) -> tuple[Reconciled, bool]:
        far = datetime.max.replace(tzinfo=cutoff.tzinfo)
        # One Query: the latest snapshot and every movement after it (core/stock/asof.LedgerWindow).
        window = self._store.ledger_windows(tenant_id, [record.stock_id], far).get(record.stock_id)
        previous, since = (window.snapshot, window.movements) if window else (None, [])
        result = reconcile_record(record, previous, since, cutoff)
        return result, previous is None or previous.at < cutoff

    def ledger_total(self, tenant_id: str, stock_id: str) -> Decimal:
        return sum((m.quantity for m in self._store.movements(tenant_id, stock_id)), ZERO)

    def reconcile(self, tenant_id: str, stock_id: str, listed: StockRecord | None = None) -> Decimal:
        """Return on_hand minus the ledger sum: zero when the invariant holds.

        `listed` is the record as a listing just read it: then the check costs
        only the ledger Query. A write between that read and the ledger's can
        make them disagree, so a difference is checked once more from a fresh
        read before it is reported.
        """
        if listed is not None:
            difference = listed.on_hand - self.ledger_total(tenant_id, stock_id)
            if difference == 0:
                return difference
        record = self._fresh(tenant_id, stock_id)
        return record.on_hand - self.ledger_total(tenant_id, stock_id)

    def _fresh(self, tenant_id: str, stock_id: str) -> StockRecord:
        record = self._store.get_record(tenant_id, stock_id)
        if record is None:
            raise NotFound(f"stock record {stock_id} not found")
        return record
