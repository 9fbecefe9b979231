"""Typed domain errors. The HTTP layer maps each to one status code, in one place.

An error names what is wrong where as `Problem`s: a message at an `At`, a
location held as data (the request array's index, a nested list entry, the
field). Surfaces render it as `[3].lineItems[0].quantity`; the CSV importers
read the field straight from it. Nobody parses a rendered location back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class At:
    """Where in the input a problem is.

    `field` is the documented field name ("" for the entry as a whole, or a
    non-field place such as "body"); `index` the entry of the request's JSON
    array (None outside an array, and for a CSV row, whose line the importer
    knows); `nested` an entry of a list inside that entry, as (list name,
    position): an order's `("lineItems", 2)`.
    """

    field: str = ""
    index: int | None = None
    nested: tuple[str, int] | None = None

    @property
    def path(self) -> str:
        """The location as a client reads it: `[3].lineItems[0].quantity`, `quantity`, `body`."""
        text = "" if self.index is None else f"[{self.index}]"
        if self.nested is not None:
            name, position = self.nested
            text += f"{'.' if text else ''}{name}[{position}]"
        if self.field:
            text += f"{'.' if text else ''}{self.field}"
        return text

    def of(self, field: str) -> At:
        """The same place, another field."""
        return replace(self, field=field)

    def in_row(self) -> At:
        """The place relative to one entry: what a CSV row error names (no array index)."""
        return replace(self, index=None)


@dataclass(frozen=True)
class Problem:
    """One thing wrong: a message at a place, optionally pointing at the place it clashes with."""

    at: At
    message: str
    # "same as lineItems[0]": the other place, rendered after the message by whoever shows it.
    same_as: At | None = None

    def text(self, describe: Callable[[At], str] | None = None) -> str:
        if self.same_as is None:
            return self.message
        return f"{self.message} {(describe or _path)(self.same_as)}"

    def detail(self) -> dict[str, Any]:
        return {"field": self.at.path, "message": self.text()}


def problem(field: str, message: str, index: int | None = None) -> Problem:
    return Problem(At(field, index), message)


def _path(at: At) -> str:
    return at.path


def _as_problem(entry: Problem | Mapping[str, Any]) -> Problem:
    if isinstance(entry, Problem):
        return entry
    # A plain {"field", "message"} names a field without an index.
    return Problem(At(str(entry.get("field", ""))), str(entry.get("message", "")))


class DomainError(Exception):
    code = "DOMAIN_ERROR"

    def __init__(self, message: str, details: Iterable[Problem | Mapping[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems: list[Problem] = [_as_problem(d) for d in details or ()]

    @property
    def details(self) -> list[dict[str, Any]]:
        """The problems as the error body shows them: `{"field": "[0].quantity", "message": ...}`."""
        return [p.detail() for p in self.problems]

    @details.setter
    def details(self, value: Iterable[Problem | Mapping[str, Any]]) -> None:
        self.problems = [_as_problem(d) for d in value]


class ValidationFailed(DomainError):
    """The request is well formed but a value breaks a rule (400)."""

    code = "VALIDATION_ERROR"


class TooManyWrites(ValidationFailed):
    """The request needs more writes than one transaction holds (100 in DynamoDB): make it smaller (413)."""

    code = "TOO_MANY_WRITES"


class NotFound(DomainError):
    """Missing, or owned by another tenant: the two are indistinguishable (404)."""

    code = "NOT_FOUND"


class UnknownReference(NotFound, ValidationFailed):
    """An id sent in a request body or query names nothing active of this company: unknown, deleted, or
    another company's (indistinguishable, as for any id): 404 naming the field. It is still a
    ValidationFailed, so code that turns a row's validation problems into row errors (the CSV importers)
    takes it as one, and a request refused on other fields as well answers one 400 naming them all."""

    code = "NOT_FOUND"


class Conflict(DomainError):
    """The request collides with the current state (409)."""

    code = "CONFLICT"


class AlreadyExists(Conflict):
    code = "ALREADY_EXISTS"


class StaleVersion(Conflict):
    code = "STALE_VERSION"


class ExpectationFailed(Conflict):
    """A compare-and-set expectation (expected quantity) no longer holds."""

    code = "EXPECTATION_FAILED"


class InsufficientStock(Conflict):
    code = "INSUFFICIENT_STOCK"


class InvalidState(Conflict):
    """The entity is in a state that does not allow this operation."""

    code = "INVALID_STATE"


class DuplicateCommand(Conflict):
    """A command id that was already applied with a different payload."""

    code = "DUPLICATE_COMMAND"


class Unavailable(DomainError):
    """Storage would not take the request now (throttled, or conflicting writes that kept colliding,
    after bounded retries): nothing was written, and the same request may be sent again (503, with
    `Retry-After: retry_after` seconds)."""

    code = "UNAVAILABLE"
    retry_after = 1


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    code = "FORBIDDEN"
