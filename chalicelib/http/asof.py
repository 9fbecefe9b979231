"""The `asOf` query parameter of stock reads: figures as they were at a past moment (core/stock/asof.py)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from chalicelib.core.models import Model

AS_OF = (
    "With `asOf` (ISO 8601; no zone means UTC) the stock figures are those of that moment, from the ledger "
    "(a daily snapshot per stock record plus the movements after it); the rest is as it is now. "
    "A moment in the future is a 400."
)


class AsOfQuery(Model):
    # Not in any of the API documents: marked `x-extension` on the parameter (http/openapi._query_parameters).
    asOf: datetime | None = Field(
        None,
        description="ISO 8601 moment: answer the stock figures as they were then",
        json_schema_extra={"x-extension": True},
    )
