"""Inventory analytics (001): period figures computed from the ledger's time index."""

from chalicelib.features.analytics.aggregate import Analytics, Scope, analyse, category_of

__all__ = ["Analytics", "Scope", "analyse", "category_of"]
