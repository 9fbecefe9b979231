"""The bounds every number and every text value meets, whichever path it came in by.

This is their one home. Request models use the annotated types below (so a
bad JSON value is a 400 naming its field, and OpenAPI says the bound), and
the feature rules a CSV row goes through call the same functions, so a value
gets the same verdict through the JSON routes and through an import.

Numbers are finite and have at most 14 digits before the point and 6 after
(20 in all; zeros trailing after the point do not count, `1.500` has 1
decimal). DynamoDB stores 38 significant digits, so every such value, and
every sum of fewer than 10^18 of them, is stored exactly; a value like
`1e200` is refused as bad input (a 400, or that row's error in an import)
before it can reach the codec, where it would raise `decimal.Overflow`.

Text holds no control characters except tab and line breaks: a NUL byte or
an escape sequence in a name is refused.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

MAX_SCALE = 6
MAX_DIGITS = 20
MAX_WHOLE_DIGITS = MAX_DIGITS - MAX_SCALE
NUMBER_TEXT = f"at most {MAX_WHOLE_DIGITS} digits before the point and {MAX_SCALE} after"
# Whitespace a text value may hold; every other control character is refused.
ALLOWED_CONTROLS = frozenset("\t\n\r")


def number_problem(value: Decimal) -> str | None:
    """Why `value` is not a number Stockroom takes, or None."""
    if not value.is_finite():
        return "must be a finite number"
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    if not any(digits):
        return None
    count = len(digits)
    while exponent < 0 and digits[count - 1] == 0:
        count -= 1
        exponent += 1
    if exponent < -MAX_SCALE:
        return f"at most {MAX_SCALE} digits after the point"
    if count + exponent > MAX_WHOLE_DIGITS:
        return f"at most {MAX_WHOLE_DIGITS} digits before the point"
    return None


def bounded(value: Decimal) -> Decimal:
    """`value` if it is within the bounds; ValueError with a message for the user otherwise."""
    problem = number_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def parse_number(text: str) -> Decimal:
    """Text read as an exact number within the bounds; ValueError (a message for the user) otherwise."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{text!r} is not a number")
    return bounded(number)


def text_problem(value: str, max_chars: int | None = None) -> str | None:
    """Why `value` is not text Stockroom takes (too long, a control character), or None."""
    if max_chars is not None and len(value) > max_chars:
        return f"at most {max_chars} characters"
    bad = next((c for c in value if c not in ALLOWED_CONTROLS and unicodedata.category(c) == "Cc"), None)
    if bad is not None:
        return f"must not contain control characters (U+{ord(bad):04X})"
    return None


def clean_text(value: str) -> str:
    """`value` if it holds no control character; ValueError otherwise (length is the Field's business)."""
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


# A number of any surface's request body.
Number = Annotated[
    Decimal,
    Field(allow_inf_nan=False, description=NUMBER_TEXT.capitalize()),
    AfterValidator(bounded),
]
# Text of any surface's request body; give its length with Field(max_length=...).
Text = Annotated[str, AfterValidator(clean_text)]


# An ISO 8601 calendar date, YYYY-MM-DD, and nothing else: not a number (0 is not 1970-01-01), not a
# date-time, not a day that does not exist (2026-02-30).
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DATE_TEXT = "ISO 8601 calendar date, YYYY-MM-DD"


def calendar_date(value: Any) -> date:
    """`value` read as an ISO 8601 calendar date; ValueError with a message for the user otherwise."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError(f"must be an {DATE_TEXT}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value} is not a day of the calendar") from None


def _date_text(value: Any) -> str:
    return calendar_date(value).isoformat()


# A date of any surface's request body.
IsoDate = Annotated[date, BeforeValidator(calendar_date), Field(description=DATE_TEXT)]
# The same, kept as its text (for fields stored as text).
IsoDateText = Annotated[
    str, BeforeValidator(_date_text), Field(description=DATE_TEXT, json_schema_extra={"format": "date"})
]

# An entity's version as a client sends it back: a whole number from 1 up to a bound no entity reaches
# (and that DynamoDB and JavaScript both hold exactly), so 1e308 or a 40-digit number is a 400.
MAX_VERSION = 2**53 - 1
Version = Annotated[int, Field(ge=1, le=MAX_VERSION)]
