"""Replenishment (001): configuration per product and location, suggestions, records (fulfilled by a
transfer when they name a source location) and the daily schedule."""

from chalicelib.features.replenishment.model import Method, Replenishment, ReplenishmentConfig, ReplenishmentStore
from chalicelib.features.replenishment.rules import Suggestion, reorder_point, round_up, suggest
from chalicelib.features.replenishment.service import ConfigFilter, ReplenishmentService

__all__ = [
    "ConfigFilter",
    "Method",
    "Replenishment",
    "ReplenishmentConfig",
    "ReplenishmentService",
    "ReplenishmentStore",
    "Suggestion",
    "reorder_point",
    "round_up",
    "suggest",
]
