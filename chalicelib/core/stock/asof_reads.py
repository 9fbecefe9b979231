"""Stock as of a moment, as StockService offers it (`AsOfReads` mixin); the arithmetic is core/stock/asof.py."""

from __future__ import annotations

from datetime import datetime

from chalicelib.core.models import StockRecord
from chalicelib.core.ports import StockStore
from chalicelib.core.stock.asof import Figures, as_moment, figures_as_of


class AsOfReads:
    """Mixin of StockService: figures of records as they were at a past moment."""

    _store: StockStore

    def figures_as_of(
        self, records: list[StockRecord], moment: datetime, *, with_claims: bool = False
    ) -> dict[str, Figures]:
        """Each record's figures at `moment`, from snapshots and the ledger (core/stock/asof.py)."""
        return figures_as_of(records, as_moment(moment), self._store, with_claims=with_claims)
