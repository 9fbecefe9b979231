"""Declared routes. Every surface registers its routes through `endpoint`,
which gives each one, in one place: its permissions (a route without any
cannot be declared; a key needs all of `permissions` and at least one of
`any_of`), authentication, body and query validation, body size limits,
`Idempotency-Key` handling, error mapping, and Decimal-exact JSON.

The list of declared endpoints also drives the OpenAPI document and the
route-table tests.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request
from pydantic import BaseModel, TypeAdapter, ValidationError

from chalicelib.core.errors import DomainError, Unavailable
from chalicelib.core.ids import id_problem
from chalicelib.core.models import Actor
from chalicelib.core.tenancy.tenants import Principal
from chalicelib.http import auth, idempotency, jsonio
from chalicelib.http.errors import HttpError, bad_request, from_domain, from_validation, internal, too_large
from chalicelib.observability import clear_request_keys, logger, request_finished
from chalicelib.settings import get_settings

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON = "application/json"
ANY_MEDIA_TYPE = "*/*"


@dataclass(frozen=True)
class Link:
    """An OpenAPI link: the operation `method path` takes `parameters` (name -> runtime expression,
    e.g. `$response.body#/0/orderId`) from this operation's request or response."""

    name: str
    method: str
    path: str
    parameters: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Endpoint:
    path: str
    method: str
    # None means public; () means any valid credential (unless any_of asks for more).
    permissions: tuple[str, ...] | None
    summary: str
    tag: str
    # The key needs at least one of these too: for routes whose data decides which one
    # (the handler then checks the exact one, e.g. an import job's kind).
    any_of: tuple[str, ...] = ()
    body: Any = None
    query: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    content_types: tuple[str, ...] = (JSON,)
    # The success body's media type when it is not JSON (CSV, ZIP, PDF, HTML): OpenAPI shows it.
    produces: str | None = None
    description: str = ""
    max_body_bytes: int | None = None
    # Response fields never kept for Idempotency-Key replays (secrets shown once).
    secret_fields: tuple[str, ...] = ()
    # The path parameter that names the caller's own company: any other value is a 403.
    company_param: str | None = None
    # A realistic request body and success body, shown in the OpenAPI document (and /docs).
    example: Any = None
    response_example: Any = None
    # Not in the API document the surface implements: added by Stockroom (OpenAPI `x-extension`).
    extension: bool = False
    # A form-encoded body's fields, for the OpenAPI document only: the handler reads the form itself
    # (the OAuth2 token route answers a bad form with RFC 6749 errors, not the service's).
    form: type[BaseModel] | None = None
    # Credentials a public route takes instead of an API key (OpenAPI security scheme names).
    security_schemes: tuple[str, ...] = ()
    # Error answers that replace the generic ones in OpenAPI: status -> (description, body model).
    error_responses: dict[str, tuple[str, Any]] | None = None
    # A JSON body model shown in the OpenAPI document for a handler that reads the raw body itself
    # (GraphQL answers a bad body in its own error shape).
    documented_body: Any = None
    # OpenAPI links of the success response: what a client (or the fuzzer's stateful phase) can call next.
    links: tuple[Link, ...] = ()
    # Response headers the handler sets itself (ETag, Location, Content-Disposition, Cache-Control), for
    # OpenAPI; the ones routing sets (X-Request-Id, Idempotent-Replayed, X-Next-Token) are added there.
    headers: tuple[str, ...] = ()
    # An empty body reads as `{}` (a body whose fields are all optional, e.g. a workflow step's comment).
    empty_body: bool = False
    # A GET whose query names something that must exist (a location, a product, a batch): an id that
    # names nothing is a 404 naming the parameter, so OpenAPI lists 404 for it.
    looks_up: bool = False

    @functools.cached_property
    def body_adapter(self) -> TypeAdapter[Any] | None:
        return TypeAdapter(self.body) if self.body is not None else None

    @property
    def public(self) -> bool:
        return self.permissions is None


ENDPOINTS: list[Endpoint] = []


@dataclass
class Call:
    """Everything a handler gets: who calls, and the validated input."""

    endpoint: Endpoint
    request: Request
    path: dict[str, str]
    principal: Principal | None = None
    body: Any = None
    query: Any = None
    idempotency_key: str | None = None

    def allows(self, permission: str) -> bool:
        """Whether the caller holds `permission`; for handlers whose data decides what they need."""
        return self.principal is not None and permission in self.principal.permissions

    def require(self, permission: str, needed_for: str) -> None:
        """403 unless the caller holds `permission`; `needed_for` says what it guards, for the message."""
        assert self.principal is not None, "public routes have no permissions"
        auth.require(self.principal, (permission,), needed_for=needed_for)

    @property
    def tenant_id(self) -> str:
        assert self.principal is not None, "public routes have no tenant"
        return self.principal.tenant_id

    @property
    def actor(self) -> Actor:
        assert self.principal is not None, "public routes have no actor"
        return self.principal.actor

    @property
    def list_scope(self) -> str:
        """Names this route for continuation tokens, so a token works only on the list that issued it."""
        return f"{self.endpoint.method} {self.endpoint.path}"

    @property
    def command_id(self) -> str | None:
        """Stable id of this command when the client sent an Idempotency-Key."""
        if self.idempotency_key is None:
            return None
        return idempotency.command_id(self.tenant_id, self.idempotency_key)


@dataclass
class Reply:
    """A handler's answer when it needs a status, headers or a non-JSON body."""

    body: Any = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON
    raw: bytes | str | None = None


Handler = Callable[[Call], Any]


def endpoint(
    bp: Blueprint,
    path: str,
    method: str,
    *,
    summary: str,
    tag: str,
    permissions: Sequence[str] | None = None,
    any_of: Sequence[str] | None = None,
    public: bool = False,
    body: Any = None,
    query: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    content_types: Sequence[str] = (JSON,),
    produces: str | None = None,
    description: str = "",
    max_body_bytes: int | None = None,
    secret_fields: Sequence[str] = (),
    company_param: str | None = None,
    example: Any = None,
    response_example: Any = None,
    extension: bool = False,
    form: type[BaseModel] | None = None,
    security_schemes: Sequence[str] = (),
    error_responses: dict[str, tuple[str, Any]] | None = None,
    documented_body: Any = None,
    links: Sequence[Link] = (),
    headers: Sequence[str] = (),
    empty_body: bool = False,
    looks_up: bool = False,
) -> Callable[[Handler], Handler]:
    if permissions is None and any_of is None and not public:
        raise ValueError(f"{method} {path} must declare its permissions (or public=True)")
    if "{companyId}" in path and company_param != "companyId":
        raise ValueError(f"{method} {path} names a company: declare company_param='companyId'")
    if any_of is not None and not any_of:
        raise ValueError(f"{method} {path}: any_of needs at least one permission (no key could hold one of none)")
    spec = Endpoint(
        path=path,
        method=method.upper(),
        permissions=None if public else tuple(permissions or ()),
        any_of=() if public else tuple(any_of or ()),
        summary=summary,
        tag=tag,
        body=body,
        query=query,
        response=response,
        status=status,
        content_types=tuple(content_types),
        produces=produces,
        description=description,
        max_body_bytes=max_body_bytes,
        secret_fields=tuple(secret_fields),
        company_param=company_param,
        example=example,
        response_example=response_example,
        extension=extension,
        form=form,
        security_schemes=tuple(security_schemes),
        error_responses=error_responses,
        documented_body=documented_body,
        links=tuple(links),
        headers=tuple(headers),
        empty_body=empty_body,
        looks_up=looks_up,
    )

    def register(handler: Handler) -> Handler:
        def view(**params: str) -> Response:
            return dispatch(spec, handler, bp.current_request, params)

        view.__name__ = handler.__name__
        view.__doc__ = handler.__doc__
        # Chalice would answer a wrong media type before anyone proved who they are: the route takes
        # every media type, and `_run` checks it after authentication and authorisation.
        bp.route(path, methods=[spec.method], content_types=[ANY_MEDIA_TYPE])(view)
        ENDPOINTS.append(spec)
        return handler

    return register


def dispatch(spec: Endpoint, handler: Handler, request: Request, params: dict[str, str]) -> Response:
    started = time.perf_counter()
    clear_request_keys()
    request_id = _request_id(request)
    route = f"{spec.method} {spec.path}"
    logger.append_keys(request_id=request_id, route=route)
    call = Call(endpoint=spec, request=request, path=params)
    try:
        response = _run(spec, handler, call)
    except HttpError as error:
        response = _error(error)
    except DomainError as error:
        # Storage refusing a call during authentication or idempotency bookkeeping (Unavailable: 503).
        response = _error(from_domain(error))
    except Exception:
        # Storage failures during authentication or idempotency bookkeeping:
        # still a JSON error, and the details stay in the log.
        logger.exception("unhandled error")
        response = _error(internal())
    response.headers["X-Request-Id"] = request_id
    principal = call.principal
    request_finished(
        request_id=request_id,
        route=route,
        status=response.status_code,
        latency_ms=(time.perf_counter() - started) * 1000,
        tenant_id=principal.tenant_id if principal else None,
        key_id=principal.key_id if principal else None,
    )
    clear_request_keys()
    return response


def _run(spec: Endpoint, handler: Handler, call: Call) -> Response:
    # Nobody learns anything about a route before proving who they are and that they may use it:
    # 401, then 403 (permission, then the company in the path), then the request itself.
    request = call.request
    if not spec.public:
        call.principal = auth.authenticate(request.headers, request.query_params)
        logger.append_keys(tenant_id=call.principal.tenant_id, key_id=call.principal.key_id)
        auth.require(call.principal, spec.permissions or ())
        if spec.any_of:
            auth.require_any(call.principal, spec.any_of)
        if spec.company_param is not None:
            _require_own_company(spec.company_param, call)
    _require_media_type(spec, request)
    _check_path_ids(spec, call.path)
    raw = _raw_body(request)
    limit = spec.max_body_bytes or get_settings().max_body_bytes
    if len(raw) > limit:
        raise too_large(f"request body exceeds {limit} bytes")
    # The body first: inputs sent as a body to a route that takes query parameters get that said.
    call.body = _parse_body(spec, raw)
    call.query = _parse_query(spec, request)
    key = request.headers.get(idempotency.HEADER)
    if key is None or spec.method not in MUTATING or call.principal is None:
        return _invoke(handler, call)
    call.idempotency_key = idempotency.validate_key(key)
    # A retry may pass its API key another way; the key is not part of the request.
    query = {k: v for k, v in (request.query_params or {}).items() if k != auth.KEY_QUERY_PARAMETER}
    fingerprint = idempotency.fingerprint(spec.method, _path(spec, call.path), query, raw)
    replay = idempotency.begin(call.tenant_id, call.idempotency_key, fingerprint)
    if replay is not None:
        headers: dict[str, str | list[str]] = {**replay.headers, "Idempotent-Replayed": "true"}
        return Response(body=replay.body, status_code=replay.status, headers=headers)
    response = _invoke(handler, call)
    body = response.body if isinstance(response.body, str) else ""
    stored = {k: v for k, v in response.headers.items() if isinstance(v, str)}
    try:
        idempotency.finish(
            call.tenant_id, call.idempotency_key, response.status_code, _redacted(body, spec.secret_fields), stored
        )
    except Unavailable:
        # The request did what it answers: a 503 would say nothing was written. The key stays claimed
        # until its lock passes (a retry meanwhile is a 409 in progress), then the retry runs again and
        # the command's transaction token answers it from what was written.
        logger.warning("idempotency record not completed: storage refused", extra={"status": response.status_code})
    return response


def _require_own_company(param: str, call: Call) -> None:
    if call.path.get(param) != call.tenant_id:
        raise HttpError(
            403,
            "FORBIDDEN",
            "this key cannot act for that company",
            [{"field": param, "message": "not the company of this API key"}],
        )


def _check_path_ids(spec: Endpoint, params: dict[str, str]) -> None:
    """Every path parameter of a declared route is an id: one that cannot be (too long, a control
    character) names nothing that exists, so it is a 404 naming the parameter, before it can reach
    storage as a key (as any unknown id is)."""
    problems = [
        {"field": name, "message": f"no such id: {problem}"}
        for name, value in params.items()
        if name != spec.company_param and (problem := id_problem(value)) is not None
    ]
    if problems:
        raise HttpError(404, "NOT_FOUND", "not found", problems)


def _require_media_type(spec: Endpoint, request: Request) -> None:
    """415 unless the request's Content-Type is one the route takes (no header reads as JSON, as Chalice does).

    A route that takes no body does not care: a body sent to it is a 400 that says so (`_unexpected_body`).
    """
    if spec.body is None and spec.content_types == (JSON,):
        return
    header = str((request.headers.get("content-type") if request.headers else None) or JSON).lower()
    given = {part.strip() for part in header.replace(",", ";").split(";")}
    if "*/*" in given or given & {media.lower() for media in spec.content_types}:
        return
    raise HttpError(
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        f"this route takes {', '.join(spec.content_types)}",
        [{"field": "Content-Type", "message": f"unsupported media type: {header}"}],
    )


def _redacted(body: str, secret_fields: tuple[str, ...]) -> str:
    if not secret_fields or not body:
        return body
    data = jsonio.loads(body)
    if isinstance(data, dict):
        data.update({name: None for name in secret_fields if name in data})
    return jsonio.dumps(data)


def _invoke(handler: Handler, call: Call) -> Response:
    try:
        result = handler(call)
    except HttpError as error:
        return _error(error)
    except DomainError as error:
        return _error(from_domain(error))
    except ValidationError as error:
        return _error(from_validation(error))
    except Exception:
        logger.exception("unhandled error")
        return _error(internal())
    return _response(call.endpoint, result)


def _parse_query(spec: Endpoint, request: Request) -> Any:
    if spec.query is None:
        return None
    params = dict(request.query_params or {})
    params.pop(auth.KEY_QUERY_PARAMETER, None)
    try:
        return spec.query.model_validate(params)
    except ValidationError as error:
        raise from_validation(error) from None


def _parse_body(spec: Endpoint, raw: bytes) -> Any:
    adapter = spec.body_adapter
    if adapter is None:
        if spec.content_types != (JSON,):
            return raw
        if raw.strip() not in (b"", b"{}", b"null"):
            raise _unexpected_body(spec)
        return None
    if not raw.strip():
        if spec.empty_body:
            raw = b"{}"
        else:
            raise bad_request("request body is required", field="body", code="BODY_REQUIRED")
    try:
        data = jsonio.loads(raw)
    except ValueError as error:
        raise bad_request(f"request body is not valid JSON: {error}", field="body", code="INVALID_JSON") from None
    try:
        return adapter.validate_python(data)
    except ValidationError as error:
        raise from_validation(error) from None


def _unexpected_body(spec: Endpoint) -> HttpError:
    """400 for a body sent to a route that takes none (its inputs, if any, are query parameters)."""
    names = list(spec.query.model_fields) if spec.query is not None else []
    if names:
        message = f"this route takes no request body: send {', '.join(names)} as query parameters"
    else:
        message = "this route takes no request body"
    return bad_request(message, field="body", code="UNEXPECTED_BODY")


def _response(spec: Endpoint, result: Any) -> Response:
    reply = result if isinstance(result, Reply) else Reply(body=result)
    status = reply.status or spec.status
    headers: dict[str, str | list[str]] = {"Content-Type": reply.content_type, **reply.headers}
    if reply.raw is not None:
        return Response(body=reply.raw, status_code=status, headers=headers)
    if status == 204:
        return Response(body="", status_code=status, headers=headers)
    return Response(body=jsonio.dumps(reply.body), status_code=status, headers=headers)


def _error(error: HttpError) -> Response:
    if error.status >= 500:
        logger.error("request failed", extra={"code": error.code})
    headers: dict[str, str | list[str]] = {"Content-Type": JSON, **error.headers}
    return Response(body=jsonio.dumps(error.body()), status_code=error.status, headers=headers)


def _raw_body(request: Request) -> bytes:
    raw = request.raw_body or b""
    return raw.encode() if isinstance(raw, str) else raw


def _path(spec: Endpoint, params: dict[str, str]) -> str:
    return spec.path.format(**params)


def _request_id(request: Request) -> str:
    context = request.context or {}
    return str(context.get("requestId") or uuid.uuid4())
