"""Runs one GraphQL request: reads it from the HTTP request, executes it against the schema with
the caller's context, and answers `{"data", "errors"}` with Decimal-exact JSON.

Errors carry `extensions.code`: a domain error keeps its kind (BAD_USER_INPUT naming the field in
`extensions.field`, NOT_FOUND, FORBIDDEN, CONFLICT), a refused document says why
(GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, QUERY_TOO_COMPLEX), and only an unexpected failure
is INTERNAL_SERVER_ERROR (its message hidden, its traceback logged). A document that cannot run
(syntax, validation, limits) is a 400 and runs no resolver; an executed one is a 200 whatever its
field errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError
from pydantic import ValidationError
from strawberry.dataloader import DataLoader
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from chalicelib.core import errors as domain
from chalicelib.http import jsonio
from chalicelib.http.errors import HttpError
from chalicelib.http.routing import Call, Reply
from chalicelib.observability import logger
from chalicelib.surfaces.graphql.limits import MAX_DEPTH, TOO_COMPLEX

JSON = "application/json"
GRAPHQL = "application/graphql"

# Domain error kinds -> extensions.code (the most specific first).
_CODES: list[tuple[type[domain.DomainError], str]] = [
    (domain.ValidationFailed, "BAD_USER_INPUT"),
    (domain.Unauthenticated, "UNAUTHENTICATED"),
    (domain.Forbidden, "FORBIDDEN"),
    (domain.NotFound, "NOT_FOUND"),
    (domain.Conflict, "CONFLICT"),
]
_HTTP_CODES = {400: "BAD_USER_INPUT", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND", 409: "CONFLICT"}


class BadRequest(Exception):
    """The HTTP request holds no runnable GraphQL request (no query, bad JSON, bad variables)."""

    def __init__(self, message: str, field: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


@dataclass(frozen=True)
class GraphQLRequest:
    query: str
    variables: dict[str, Any] | None = None
    operation_name: str | None = None


@dataclass
class Context:
    """What every resolver sees as `info.context`: the caller, and this request's DataLoaders."""

    call: Call
    _loaders: dict[str, DataLoader[Any, Any]] = field(default_factory=dict)

    @property
    def tenant_id(self) -> str:
        return self.call.tenant_id

    def command_id(self, info: Any) -> str | None:
        """This mutation's command id: the request's Idempotency-Key and the field's response name (its alias),
        so two mutations of one document never share one."""
        command = self.call.command_id
        return f"{command}:{info.path.key}" if command else None

    def require(self, permission: str) -> None:
        """A FORBIDDEN error for this field unless the caller holds `permission` (the REST routes' check)."""
        if not self.call.allows(permission):
            raise GraphQLError(
                f"this API key lacks the permission {permission}",
                extensions={"code": "FORBIDDEN", "field": "permissions", "requires": [permission]},
            )

    def loader(
        self,
        name: str,
        load: Callable[[list[Any]], Sequence[Any]],
        cache_key: Callable[[Any], Hashable] | None = None,
    ) -> DataLoader[Any, Any]:
        """This request's DataLoader `name`: the keys asked for in one tick of the resolvers go to `load`
        together, once each (one batched read instead of one per key)."""
        found = self._loaders.get(name)
        if found is None:

            async def batch(keys: list[Any]) -> Sequence[Any]:
                return load(keys)

            found = DataLoader(batch, cache_key_fn=cache_key)
            self._loaders[name] = found
        return found


def from_post(call: Call) -> GraphQLRequest:
    """A POST body: JSON `{"query", "variables", "operationName"}`, or the document itself as application/graphql."""
    raw = call.body if isinstance(call.body, bytes) else b""
    media = str(call.request.headers.get("content-type") or JSON).split(";")[0].strip().lower()
    if media == GRAPHQL:
        return GraphQLRequest(query=_text(raw))
    if not raw.strip():
        raise BadRequest('request body is required: {"query": ...}', "body")
    try:
        data = jsonio.loads(raw)
    except ValueError as error:
        raise BadRequest(f"request body is not valid JSON: {error}", "body") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object with a query", "body")
    return _request(data.get("query"), data.get("variables"), data.get("operationName"))


def from_get(params: dict[str, str]) -> GraphQLRequest:
    """GET /graphql?query=...&variables=<JSON>&operationName=... (queries only)."""
    variables: Any = params.get("variables")
    if variables:
        try:
            variables = jsonio.loads(variables)
        except ValueError as error:
            raise BadRequest(f"variables is not valid JSON: {error}", "variables") from None
    return _request(params.get("query"), variables or None, params.get("operationName"))


def _request(query: Any, variables: Any, operation_name: Any) -> GraphQLRequest:
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("query is required: a GraphQL document", "query")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("variables must be a JSON object", "variables")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadRequest("operationName must be a string", "operationName")
    return GraphQLRequest(query, variables, operation_name)


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the document is not UTF-8 text", "body") from None


def run(call: Call, read: Callable[[], GraphQLRequest], *, mutations: bool) -> Reply:
    """Execute the request `read` gives; `mutations` is False for GET (queries only, as GraphQL over HTTP asks)."""
    from chalicelib.surfaces.graphql.schema import schema

    try:
        request = read()
    except BadRequest as bad:
        return _refused(bad.status, bad.message, "BAD_REQUEST", bad.field)
    allowed = {OperationType.QUERY, OperationType.MUTATION} if mutations else {OperationType.QUERY}
    try:
        result = asyncio.run(_execute(schema(), request, Context(call), allowed))
    except InvalidOperationTypeError:
        reply = _refused(405, "GET runs queries only: send mutations with POST", "BAD_REQUEST", "query")
        reply.headers["Allow"] = "POST"
        return reply
    except MissingQueryError:
        return _refused(400, "query is required: a GraphQL document", "BAD_REQUEST", "query")
    except CannotGetOperationTypeError as error:
        return _refused(400, str(error), "BAD_REQUEST", "operationName")
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [formatted(error) for error in result.errors]
    body["data"] = result.data
    # Errors without a path are the document's (syntax, validation, limits): nothing ran, a 400. An
    # executed document is a 200 even when a non-null root field's error nulled `data`.
    refused = result.data is None and bool(result.errors) and all(e.path is None for e in result.errors)
    return Reply(body=body, status=400 if refused else 200)


async def _execute(schema: Any, request: GraphQLRequest, context: Context, allowed: set[OperationType]) -> Any:
    return await schema.execute(
        request.query,
        variable_values=request.variables,
        context_value=context,
        operation_name=request.operation_name,
        allowed_operation_types=allowed,
    )


def _refused(status: int, message: str, code: str, field: str) -> Reply:
    error = {"message": message, "extensions": {"code": code, "field": field}}
    return Reply(body={"errors": [error], "data": None}, status=status)


def formatted(error: GraphQLError) -> dict[str, Any]:
    """The error as the response shows it, with `extensions.code` (and `field` where one is at fault)."""
    out: dict[str, Any] = dict(error.formatted)
    extensions = dict(error.extensions or {})
    original = error.original_error
    if isinstance(original, domain.DomainError):
        out["message"] = original.message
        extensions["code"] = next((c for kind, c in _CODES if isinstance(original, kind)), "BAD_USER_INPUT")
        _name_fields(extensions, original.details)
    elif isinstance(original, HttpError):
        out["message"] = original.message
        extensions["code"] = _HTTP_CODES.get(original.status, "BAD_USER_INPUT")
        _name_fields(extensions, original.details)
    elif isinstance(original, ValidationError):
        out["message"] = "invalid input"
        extensions["code"] = "BAD_USER_INPUT"
        details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in original.errors()]
        _name_fields(extensions, details)
    elif original is not None and not isinstance(original, GraphQLError):
        out["message"] = "Internal server error"
        extensions = {"code": "INTERNAL_SERVER_ERROR"}
    elif "code" not in extensions:
        extensions["code"] = _document_code(error)
    out["extensions"] = extensions
    return out


def _name_fields(extensions: dict[str, Any], details: list[dict[str, Any]]) -> None:
    if details:
        extensions["field"] = details[0]["field"]
        extensions["details"] = details


def _document_code(error: GraphQLError) -> str:
    message = error.message
    if message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if f"exceeds maximum operation depth of {MAX_DEPTH}" in message:
        return TOO_COMPLEX
    if message.startswith("Variable '$"):
        return "BAD_USER_INPUT"
    return "GRAPHQL_VALIDATION_FAILED" if error.path is None else "BAD_USER_INPUT"


def unexpected(errors: list[GraphQLError]) -> list[GraphQLError]:
    """The errors no client caused (bugs, storage failures): the only ones worth a traceback in the log."""
    expected = (domain.DomainError, HttpError, ValidationError, GraphQLError)
    return [e for e in errors if e.original_error is not None and not isinstance(e.original_error, expected)]


def log_unexpected(errors: list[GraphQLError]) -> None:
    for error in unexpected(errors):
        original = error.original_error
        assert original is not None
        logger.error(
            "unhandled error",
            exc_info=(type(original), original, original.__traceback__),
            extra={"graphql_path": error.path},
        )
