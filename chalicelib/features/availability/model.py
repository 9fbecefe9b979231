"""Channels and allocations (001 availability records)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import Field

from chalicelib.core.ids import new_id
from chalicelib.core.models import ZERO, Entity, Model


class Channel(Entity):
    """A sales channel (web shop, marketplace, retail...); `code` is unique per company in any case."""

    channel_id: str = Field(default_factory=new_id)
    code: str
    name: str
    active: bool = True


class Mode(StrEnum):
    ALL = "all"  # the whole available quantity
    PERCENT = "percent"  # value % of it (0..100)
    FIXED = "fixed"  # at most value units of it


class ChannelRule(Model):
    """How much of the available stock one channel may promise, before its buffer."""

    channel_id: str
    mode: Mode
    value: Decimal | None = None
    buffer: Decimal = ZERO


class Allocation(Entity):
    """The availability record of one product at one location: a rule per channel.

    A channel the record does not name gets nothing at that place; a product
    without a record at a location offers everything to every channel (`mode all`).
    """

    product_id: str
    location_id: str
    channels: list[ChannelRule] = Field(default_factory=list)
