"""Channels and availability-to-promise (001): how much of a location's available stock each sales
channel may promise. What other packages may use is named here."""

from chalicelib.features.availability.model import Allocation, Channel, ChannelRule, Mode
from chalicelib.features.availability.rules import atp, channel_figures

__all__ = ["Allocation", "Channel", "ChannelRule", "Mode", "atp", "channel_figures"]
