"""The OpenAPI 3.1 document, generated from the declared endpoints and their
pydantic models, so it cannot drift from what the routes accept."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from chalicelib.core.ids import ID_PATTERN, MAX_ID_CHARS
from chalicelib.core.models import Model
from chalicelib.http.routing import ENDPOINTS, MUTATING, Endpoint

REF = "#/components/schemas/{model}"
ERROR_STATUSES = {
    "400": "Invalid input; `details` names each bad field",
    "401": "Missing or invalid credential",
    "403": "The credential lacks the permission, or the path names another company",
    "404": "Not found (objects of other tenants are indistinguishable from missing ones)",
    "409": "Conflict with the current state: stale version, insufficient stock, request in progress",
    "413": "Body larger than the limit",
    "415": "A Content-Type the operation does not take",
    "422": "Idempotency-Key reused with a different payload",
    "503": "Storage is throttled or busy: nothing was written; send the same request again later",
}
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearerKey": {"type": "http", "scheme": "bearer", "description": "API key as `Authorization: Bearer <key>`"},
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "inventoraHeader": {"type": "apiKey", "in": "header", "name": "X-Inventora-API-Key"},
    "inventoraQuery": {"type": "apiKey", "in": "query", "name": "x-inventora-api-key"},
    "bearerToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "OAuth2 access token from `POST /oauth2/token` as `Authorization: Bearer <token>`; "
        "its scopes are its permissions",
    },
}
# The OAuth2 scheme lists every permission as a scope; an operation names the ones it needs.
OAUTH2_SCHEME = "oauth2"
# How a client proves who it is at the token route (RFC 6749 2.3.1); the body's client_id/client_secret also work.
CLIENT_BASIC_SCHEME = "clientBasic"


class ErrorBody(Model):
    error: str
    code: str
    details: list[dict[str, Any]] = []


@cache
def document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    # Registers ErrorBody under its name; the $ref it returns is for operations.
    _schema(ErrorBody, "serialization", schemas)
    paths: dict[str, Any] = {}
    for spec in ENDPOINTS:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Stockroom",
            "version": "1.0.0",
            "description": "Multi-tenant inventory service. Errors are JSON "
            '`{"error", "code", "details"}`; quantities and money are exact decimals. '
            "Each operation's `x-permissions` lists the permissions its API key needs, all of them; "
            "`x-permissions-any-of`, where present, lists permissions of which the key needs at least one "
            "(which one can depend on the data, as the operation's description says). "
            "Authenticate with an API key, or with an OAuth2 access token from `POST /oauth2/token` "
            "(client credentials) as `Authorization: Bearer <token>`: its scopes are its permissions.",
        },
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": _security_schemes()},
    }


def _security_schemes() -> dict[str, Any]:
    from chalicelib.core.tenancy.permissions import ALL_PERMISSIONS

    oauth2 = {
        "type": "oauth2",
        "description": "OAuth2 client credentials (RFC 6749 4.4): clients are created with `POST /oauth2/clients`",
        "flows": {
            "clientCredentials": {
                "tokenUrl": "/oauth2/token",
                "scopes": {p: f"the {p} permission" for p in sorted(ALL_PERMISSIONS)},
            }
        },
    }
    basic = {"type": "http", "scheme": "basic", "description": "client_id:client_secret (token route only)"}
    return {**SECURITY_SCHEMES, OAUTH2_SCHEME: oauth2, CLIENT_BASIC_SCHEME: basic}


def _operation(spec: Endpoint, schemas: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": _operation_id(spec),
        "summary": spec.summary,
        "tags": [spec.tag],
        "parameters": _path_parameters(spec) + _query_parameters(spec, schemas),
        "responses": _responses(spec, schemas),
    }
    if spec.description:
        operation["description"] = spec.description
    if spec.extension:
        operation["x-extension"] = True
    operation.update(_security(spec))
    if spec.method in MUTATING and not spec.public:
        operation["parameters"].append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                "description": "Replays return the first response; another payload under the same key is a 422.",
            }
        )
    body = _request_body(spec, schemas)
    if body is not None:
        operation["requestBody"] = body
    return operation


def _security(spec: Endpoint) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if spec.public:
        # {} last: the scheme is optional (the token route also takes the client's credentials in its form).
        out["security"] = [{name: []} for name in spec.security_schemes] + ([{}] if spec.security_schemes else [])
    else:
        scopes = sorted({*(spec.permissions or ()), *spec.any_of})
        out["security"] = [{name: []} for name in SECURITY_SCHEMES] + [{OAUTH2_SCHEME: scopes}]
        out["x-permissions"] = list(spec.permissions or ())
        if spec.any_of:
            out["x-permissions-any-of"] = list(spec.any_of)
    return out


def _request_body(spec: Endpoint, schemas: dict[str, Any]) -> dict[str, Any] | None:
    if spec.form is not None:
        form: dict[str, Any] = {"schema": _schema(spec.form, "validation", schemas)}
        if spec.example is not None:
            form["example"] = spec.example
        return {"required": True, "content": {spec.content_types[0]: form}}
    if spec.body is not None:
        media: dict[str, Any] = {"schema": _schema(spec.body, "validation", schemas)}
        if spec.example is not None:
            media["example"] = spec.example
        return {"required": True, "content": {"application/json": media}}
    if spec.content_types != ("application/json",):
        content: dict[str, Any] = {ct: {"schema": {"type": "string"}} for ct in spec.content_types}
        if spec.documented_body is not None:
            documented: dict[str, Any] = {"schema": _schema(spec.documented_body, "validation", schemas)}
            if spec.example is not None:
                documented["example"] = spec.example
            content["application/json"] = documented
        return {"required": True, "content": content}
    return None


def _responses(spec: Endpoint, schemas: dict[str, Any]) -> dict[str, Any]:
    success: dict[str, Any] = {"description": spec.summary}
    if spec.produces is not None:
        binary = not spec.produces.startswith("text/")
        body = {"type": "string", **({"contentMediaType": spec.produces.split(";")[0]} if binary else {})}
        success["content"] = {spec.produces.split(";")[0]: {"schema": body}}
    elif spec.response is not None:
        media: dict[str, Any] = {"schema": _schema(spec.response, "serialization", schemas)}
        if spec.response_example is not None:
            media["example"] = spec.response_example
        success["content"] = {"application/json": media}
    if spec.links:
        success["links"] = {
            link.name: {
                "operationId": _operation_id_of(link.method, link.path),
                "parameters": dict(link.parameters),
            }
            for link in spec.links
        }
    responses: dict[str, Any] = {str(spec.status): success}
    error = {"content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}}}
    for status, description in ERROR_STATUSES.items():
        if spec.public and status in {"401", "403", "422"}:
            continue
        responses[status] = {"description": description, **error}
    # A route's own error bodies replace the generic ones for the statuses it names; routing's
    # other answers (415, 413, ...) keep the service's shape.
    for status, (description, model) in (spec.error_responses or {}).items():
        error_body: dict[str, Any] = {"schema": _schema(model, "serialization", schemas)}
        responses[status] = {"description": description, "content": {"application/json": error_body}}
    return responses


def _path_parameters(spec: Endpoint) -> list[dict[str, Any]]:
    # Every path parameter is an id (routing checks it as one).
    schema = {"type": "string", "minLength": 1, "maxLength": MAX_ID_CHARS, "pattern": ID_PATTERN}
    return [
        {"name": name, "in": "path", "required": True, "schema": schema} for name in re.findall(r"{(\w+)}", spec.path)
    ]


def _query_parameters(spec: Endpoint, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    if spec.query is None:
        return []
    model_schema = _schema(spec.query, "validation", schemas, inline=True)
    required = set(model_schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": schema}
        for name, schema in model_schema.get("properties", {}).items()
    ]


class _Schemas(GenerateJsonSchema):
    """pydantic's JSON Schema, except that a Decimal is what the API sends and takes: a JSON number
    (pydantic documents a string when serialising, and number-or-string when validating)."""

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        generated: JsonSchemaValue = {"type": "number", "format": "decimal"}
        self.update_with_validations(generated, schema, self.ValidationsMapping.numeric)
        return generated


def _schema(kind: Any, mode: str, schemas: dict[str, Any], inline: bool = False) -> dict[str, Any]:
    generated = TypeAdapter(kind).json_schema(ref_template=REF, mode=mode, schema_generator=_Schemas)  # type: ignore[arg-type]
    schemas.update(generated.pop("$defs", {}))
    name = getattr(kind, "__name__", None)
    if inline or not isinstance(kind, type) or not issubclass(kind, BaseModel) or name is None:
        return generated
    schemas.setdefault(name, generated)
    return {"$ref": REF.format(model=name)}


def _operation_id(spec: Endpoint) -> str:
    return _operation_id_of(spec.method, spec.path)


def _operation_id_of(method: str, path: str) -> str:
    words = re.sub(r"[{}]", "", path).strip("/").replace("-", "_").replace("/", "_")
    return f"{method.lower()}_{words or 'root'}"
