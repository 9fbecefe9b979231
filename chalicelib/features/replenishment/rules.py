"""Replenishment arithmetic (no storage): is a pair below its reorder point, and how much to order."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from chalicelib.core.models import ZERO
from chalicelib.features.replenishment.model import Method, ReplenishmentConfig


@dataclass(frozen=True)
class Suggestion:
    product_id: str
    location_id: str
    available: Decimal
    incoming: Decimal
    reorder_point: Decimal
    suggested_quantity: Decimal
    reason: str
    source_location_id: str | None = None


def reorder_point(config: ReplenishmentConfig) -> Decimal:
    """min_max: the minimum; reorder_point: the minimum (the reorder point) plus safety stock."""
    if config.method == Method.REORDER_POINT:
        return config.min_quantity + (config.safety_stock or ZERO)
    return config.min_quantity


def round_up(quantity: Decimal, pack: Decimal | None) -> Decimal:
    if not pack or pack <= 0:
        return quantity
    packs = (quantity / pack).to_integral_value(rounding=ROUND_CEILING)
    return packs * pack


def suggest(config: ReplenishmentConfig, available: Decimal, incoming: Decimal) -> Suggestion | None:
    """A suggestion when available + incoming falls below the reorder point: up to max (or the reorder
    quantity for reorder_point), rounded up to the pack size; None otherwise."""
    point = reorder_point(config)
    position = available + incoming
    if position >= point:
        return None
    if config.method == Method.REORDER_POINT and config.reorder_quantity:
        wanted = config.reorder_quantity
    else:
        wanted = config.max_quantity - position
    quantity = round_up(max(wanted, ZERO), config.pack_size)
    if quantity <= 0:
        return None
    return Suggestion(
        product_id=config.product_id,
        location_id=config.location_id,
        available=available,
        incoming=incoming,
        reorder_point=point,
        suggested_quantity=quantity,
        reason=f"available {available} + incoming {incoming} is below the reorder point {point}",
        source_location_id=config.source_location_id,
    )
