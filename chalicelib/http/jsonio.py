"""Decimal-exact JSON.

Chalice's serialiser would turn Decimal into float; quantities and money
must come out exactly as stored, so responses are encoded here.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from pydantic import BaseModel

_string = json.encoder.encode_basestring_ascii


def dumps(value: Any) -> str:
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts)


def _encode(value: Any, out: list[str]) -> None:  # noqa: PLR0912 - one branch per JSON type
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="python", by_alias=True)
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, Decimal):
        out.append(_decimal(value))
    elif isinstance(value, int | float):
        # NaN and Infinity are not JSON; refuse them as for Decimal.
        out.append(json.dumps(value, allow_nan=False))
    elif isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(_string(str(key)))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple | set | frozenset):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif isinstance(value, datetime):
        out.append(_string(_iso(value)))
    elif isinstance(value, date):
        out.append(_string(value.isoformat()))
    elif isinstance(value, Enum):
        _encode(value.value, out)
    elif isinstance(value, UUID):
        out.append(_string(str(value)))
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def _decimal(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError("NaN and Infinity are not JSON numbers")
    # A whole number stored as 1E+2 reads better, and parses the same, as 100.
    # Fixed-point formatting, unlike quantize, needs no context precision, so
    # 1E+30 (DynamoDB keeps 38 digits) comes out whole instead of raising.
    if value.as_tuple().exponent > 0:  # type: ignore[operator]
        return format(value, "f")
    return str(value)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# No document of ours nests deeper than a handful of levels; deeper input is refused before
# anything recursive (the parser, pydantic, our encoder) can exhaust the stack.
MAX_DEPTH = 32


def loads(raw: bytes | str) -> Any:
    """Parse JSON keeping every non-integer number a Decimal; ValueError when it nests deeper than MAX_DEPTH."""
    try:
        value = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    if _depth(value) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    return value


def _depth(value: Any) -> int:
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")
