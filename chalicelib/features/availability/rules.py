"""Available-to-promise arithmetic. No storage: plain figures in, figures out.

ATP of a channel = max(0, its allocated share of available - its buffer), where
available = on hand - reserved - held of the company's own (INTERN) stock at
the location. Shares are not exclusive: two channels on `all` may both promise
the same units (an oversell is settled by the reservation that comes first).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from chalicelib.core.errors import At, Problem, ValidationFailed
from chalicelib.core.models import ZERO, StockRecord
from chalicelib.features.availability.model import Allocation, Channel, ChannelRule, Mode

OWN_STOCK = "INTERN"
HUNDRED = Decimal(100)
# Never promise a fraction finer than the service stores (core/values: 6 places), and never round up.
QUANTUM = Decimal("0.000001")


@dataclass(frozen=True)
class Figures:
    """Stock of one product at one location (own, active records only)."""

    on_hand: Decimal = ZERO
    reserved: Decimal = ZERO
    held: Decimal = ZERO
    available: Decimal = ZERO

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.on_hand + other.on_hand,
            self.reserved + other.reserved,
            self.held + other.held,
            self.available + other.available,
        )


def counts(record: StockRecord) -> bool:
    """Whether a record is promisable stock: active and the company's own (supplier stock is not)."""
    return record.active and record.owner == OWN_STOCK


def figures(records: Iterable[StockRecord]) -> Figures:
    total = Figures()
    for r in records:
        if counts(r):
            total = total + Figures(r.on_hand, r.reserved, r.held, r.available)
    return total


def share(available: Decimal, rule: ChannelRule) -> Decimal:
    """The part of `available` the rule allocates, before the buffer (never negative)."""
    base = max(available, ZERO)
    if rule.mode is Mode.ALL:
        return base
    value = rule.value if rule.value is not None else ZERO
    if rule.mode is Mode.PERCENT:
        return (base * value / HUNDRED).quantize(QUANTUM, rounding=ROUND_DOWN)
    return min(value, base)


def atp(available: Decimal, rule: ChannelRule) -> Decimal:
    return max(ZERO, share(available, rule) - rule.buffer)


@dataclass(frozen=True)
class ChannelFigure:
    """One channel's figure at one place, with the rule behind it."""

    channel_id: str
    rule: ChannelRule | None  # None: the channel is not in the record (it gets nothing)
    share: Decimal
    atp: Decimal
    default: bool  # True: no record at this place, every channel takes it all


def channel_figures(
    available: Decimal, allocation: Allocation | None, channel_ids: Sequence[str]
) -> list[ChannelFigure]:
    """ATP of each channel in `channel_ids` (in that order) at one product and location."""
    result = []
    rules = {rule.channel_id: rule for rule in allocation.channels} if allocation is not None else {}
    for channel_id in channel_ids:
        if allocation is None:
            rule: ChannelRule | None = ChannelRule(channel_id=channel_id, mode=Mode.ALL)
        else:
            rule = rules.get(channel_id)
        if rule is None:
            result.append(ChannelFigure(channel_id, None, ZERO, ZERO, False))
            continue
        result.append(ChannelFigure(channel_id, rule, share(available, rule), atp(available, rule), allocation is None))
    return result


# -- input rules -------------------------------------------------------------------

CODE_MAX = 50
NAME_MAX = 200


def check_channel(code: str, name: str) -> tuple[str, str]:
    """Trimmed code and name, or a 400 naming the field."""
    problems = []
    code, name = code.strip(), name.strip()
    if not code or len(code) > CODE_MAX:
        problems.append(Problem(At("code"), f"code must be 1 to {CODE_MAX} characters"))
    if not name or len(name) > NAME_MAX:
        problems.append(Problem(At("name"), f"name must be 1 to {NAME_MAX} characters"))
    if problems:
        raise ValidationFailed("invalid channel", problems)
    return code, name


def check_rules(rules: Sequence[ChannelRule]) -> None:
    """400 naming `channels[i].<field>` for a rule that cannot be applied."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for index, rule in enumerate(rules):
        at = At("", nested=("channels", index))
        if rule.channel_id in seen:
            problems.append(
                Problem(
                    at.of("channelId"),
                    "channel given twice, same as",
                    At("", nested=("channels", seen[rule.channel_id])),
                )
            )
        seen.setdefault(rule.channel_id, index)
        if rule.buffer < 0:
            problems.append(Problem(at.of("buffer"), "buffer must not be negative"))
        if rule.mode is Mode.ALL:
            if rule.value is not None:
                problems.append(Problem(at.of("value"), "mode all takes no value"))
        elif rule.value is None:
            problems.append(Problem(at.of("value"), f"mode {rule.mode.value} needs a value"))
        elif rule.mode is Mode.PERCENT and not ZERO <= rule.value <= HUNDRED:
            problems.append(Problem(at.of("value"), "percent must be from 0 to 100"))
        elif rule.mode is Mode.FIXED and rule.value < 0:
            problems.append(Problem(at.of("value"), "fixed quantity must not be negative"))
    if problems:
        raise ValidationFailed("invalid channel allocation", problems)


def active_channel_ids(channels: Iterable[Channel]) -> list[str]:
    return [c.channel_id for c in sorted(channels, key=lambda c: (c.code.casefold(), c.channel_id)) if c.active]
