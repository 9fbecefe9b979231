"""CSV cells that a spreadsheet shows as data, never runs as a formula.

Text that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a
leading `'` (OWASP CSV injection guidance): spreadsheets run such cells as
formulas, and `'` makes them plain text. Real numbers (Decimal, int) are
written exactly and never prefixed: a number cannot carry a formula, and a
quote would turn a negative quantity such as `-3` into text. A numeric field
that somehow holds a string is treated as text, so it is neutralised.
`unneutralised` undoes the guard when an upload reads a cell back, and
`parse_decimal` reads a number cell under the bounds of `core.values`, the
same the JSON routes apply.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib.core.values import parse_number

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def neutralise(text: str) -> str:
    """The text as a spreadsheet shows it, never as a formula it would run."""
    return QUOTE + text if text.startswith(FORMULA_TRIGGERS) else text


def unneutralised(text: str) -> str:
    """Undo `neutralise` on a cell read back: `'=x` was written for the value `=x`; `'x` and `'` stay."""
    if len(text) > 1 and text[0] == QUOTE and text[1] in FORMULA_TRIGGERS:
        return text[1:]
    return text


def parse_decimal(text: str) -> Decimal:
    """A cell read back as an exact number within the core's bounds; ValueError (a message for the user) if not."""
    return parse_number(text)


def number(value: Decimal | int) -> str:
    """The number exactly as stored: no float round trip, no exponent, trailing zeros kept."""
    if isinstance(value, Decimal) and not value.is_finite():
        return neutralise(str(value))
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def timestamp(moment: datetime) -> str:
    """UTC ISO-8601 with `Z`, the same text the JSON responses carry."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def cell(value: Any) -> str:
    """One value as CSV cell text: empty for null, exact numbers, neutralised text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int):
        return number(value)
    if isinstance(value, float):
        # Stored numbers are Decimal; a float would only come from a bug, so keep its shortest exact text.
        return number(Decimal(repr(value)))
    if isinstance(value, datetime):
        return timestamp(value)
    return neutralise(str(value))


def row(values: Iterable[Any]) -> list[str]:
    return [cell(v) for v in values]


def render(header: Sequence[str], rows: Iterable[Iterable[Any]]) -> str:
    """A whole CSV document (RFC 4180 quoting, CRLF line ends) built row by row in one text buffer."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for values in rows:
        writer.writerow(row(values))
    return buffer.getvalue()
