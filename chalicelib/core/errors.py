"""Typed domain errors. The HTTP layer maps each to one status code, in one place."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "DOMAIN_ERROR"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class ValidationFailed(DomainError):
    """The request is well formed but a value breaks a rule (400)."""

    code = "VALIDATION_ERROR"


class TooManyWrites(ValidationFailed):
    """The request needs more writes than one transaction holds (100 in DynamoDB): make it smaller (413)."""

    code = "TOO_MANY_WRITES"


class NotFound(DomainError):
    """Missing, or owned by another tenant: the two are indistinguishable (404)."""

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


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    code = "FORBIDDEN"
