"""Identifiers and time, in one place so tests can reason about them.

`Id` is the one type of every id a client sends (in a body, a query string
or a list of ids): a non-empty string of at most `MAX_ID_CHARS` characters
without control characters. Every surface's request models use it, so an
id that could not be a key (`""` is refused by DynamoDB as a key value, a
NUL byte, a 5,000-character string) is a 400 naming its field before it
reaches storage. `UniqueIds` is a batch of them, each at most once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from chalicelib.core.values import clean_text, text_problem

# Long enough for any id Stockroom issues (a UUID is 36) and for an external system's own.
MAX_ID_CHARS = 100
# No control characters (C0, DEL); anything else may be part of an external id.
ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


def id_problem(value: str) -> str | None:
    """Why `value` cannot be an id (for ids that come in outside a model, such as path parameters), or None."""
    if not value:
        return "must not be empty"
    return text_problem(value, MAX_ID_CHARS)


def _each_once(ids: list[str]) -> list[str]:
    seen: set[str] = set()
    for index, value in enumerate(ids):
        if value in seen:
            raise ValueError(f"id {value!r} is given twice (again at position {index})")
        seen.add(value)
    return ids


# Any id a client sends.
Id = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_ID_CHARS,
        description=f"An id (1-{MAX_ID_CHARS} characters, no control characters)",
        json_schema_extra={"pattern": ID_PATTERN},
    ),
    AfterValidator(clean_text),
]
# A batch of ids: each one at most once (`uniqueItems`); give the batch's size with Field(max_length=...).
UniqueIds = Annotated[list[Id], AfterValidator(_each_once), Field(json_schema_extra={"uniqueItems": True})]
