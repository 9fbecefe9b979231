"""Every error response, in one shape: {"error", "code", "details"}.

Domain errors map to a status here and only here.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from chalicelib.core import errors as domain


class HttpError(Exception):
    """An error that already knows its HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        # Sent with the error (WWW-Authenticate, Retry-After).
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code, "details": self.details}


_STATUS: list[tuple[type[domain.DomainError], int]] = [
    (domain.UnknownReference, 404),
    (domain.TooManyWrites, 413),
    (domain.ValidationFailed, 400),
    (domain.Unauthenticated, 401),
    (domain.Forbidden, 403),
    (domain.NotFound, 404),
    (domain.Conflict, 409),
    (domain.Unavailable, 503),
]


def from_domain(error: domain.DomainError) -> HttpError:
    status = next((code for kind, code in _STATUS if isinstance(error, kind)), 400)
    # Storage refused the request (throttled or busy, after bounded retries): when to send it again.
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, domain.Unavailable) else None
    return HttpError(status, error.code, error.message, error.details, headers)


def from_validation(error: ValidationError, prefix: str = "") -> HttpError:
    """A 400 naming every bad field, as `a.b[0].c`, with pydantic's message."""
    details = [{"field": _field_path(prefix, e["loc"]), "message": _message(e)} for e in error.errors()]
    fields = ", ".join(sorted({d["field"] for d in details}))
    return HttpError(400, "VALIDATION_ERROR", f"invalid request: {fields}", details)


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field: this request has no such field (see the OpenAPI document)"
    return str(error["msg"]).removeprefix("Value error, ")


def _field_path(prefix: str, loc: tuple[int | str, ...]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path or "body"


def bad_request(message: str, field: str | None = None, code: str = "BAD_REQUEST") -> HttpError:
    details = [{"field": field, "message": message}] if field else []
    return HttpError(400, code, message, details)


def unauthenticated(message: str) -> HttpError:
    return HttpError(401, "UNAUTHENTICATED", message)


def forbidden(message: str) -> HttpError:
    return HttpError(403, "FORBIDDEN", message)


def too_large(message: str) -> HttpError:
    return HttpError(413, "PAYLOAD_TOO_LARGE", message)


def internal() -> HttpError:
    return HttpError(500, "INTERNAL", "Internal server error")
