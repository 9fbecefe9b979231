"""The OpenAPI 3.1 document, generated from the declared endpoints and their
pydantic models, so it cannot drift from what the routes accept."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from chalicelib.core.ids import ID_PATTERN, MAX_ID_CHARS
from chalicelib.core.models import Model
from chalicelib.http.examples import example
from chalicelib.http.pagination import NEXT_TOKEN, ListQuery
from chalicelib.http.routing import ENDPOINTS, JSON, MUTATING, Endpoint
from chalicelib.settings import get_settings

REF = "#/components/schemas/{model}"
ERROR_STATUSES = {
    "400": "Invalid input; `details` names each bad field (all of them, unknown fields included)",
    "401": "Missing or invalid credential",
    "403": "The credential lacks the permission, or the path names another company",
    "404": "Not found (objects of other tenants are indistinguishable from missing ones)",
    "409": "Conflict with the current state: stale version, insufficient stock, request in progress",
    "413": "Body larger than the limit",
    "415": "A Content-Type this operation does not take",
    "422": "Idempotency-Key reused with a different payload",
    "503": "Storage is throttled or busy: nothing was written; send the same request again later",
}
ERROR_EXAMPLES = {
    "400": {
        "error": "invalid request: [0].productName, [0].qty",
        "code": "VALIDATION_ERROR",
        "details": [
            {"field": "[0].productName", "message": "String should have at least 1 character"},
            {"field": "[0].qty", "message": "unknown field: this request has no such field (see the OpenAPI document)"},
        ],
    },
    "401": {"error": "missing API key", "code": "UNAUTHENTICATED", "details": []},
    "403": {"error": "missing permission: inventory.write", "code": "FORBIDDEN", "details": []},
    "404": {"error": "inventory item not found", "code": "NOT_FOUND", "details": []},
    "409": {"error": "stale version", "code": "CONFLICT", "details": [{"field": "version", "message": "stale"}]},
    "413": {"error": "request body exceeds 1048576 bytes", "code": "PAYLOAD_TOO_LARGE", "details": []},
    "415": {
        "error": "this route takes application/json",
        "code": "UNSUPPORTED_MEDIA_TYPE",
        "details": [{"field": "Content-Type", "message": "unsupported media type: text/plain"}],
    },
    "422": {"error": "Idempotency-Key reused with another payload", "code": "IDEMPOTENCY_MISMATCH", "details": []},
    "503": {"error": "storage is busy: nothing was written; try again", "code": "UNAVAILABLE", "details": []},
}
# Every response header an operation may set, and what it means.
HEADERS = {
    "X-Request-Id": "This request's id; every log line about it carries the same `request_id`",
    "X-Next-Token": "Present while more items remain: pass it back as `nextToken`. Absent on the last page.",
    "Idempotent-Replayed": "`true` when this is the stored answer to an earlier request with this Idempotency-Key",
    "ETag": "The representation's fingerprint: send it as `If-None-Match` to get a 304 while it is unchanged",
    "Location": "Where the created job, the next step or the file is",
    "Content-Disposition": "`attachment; filename=...` for a file download",
    "Cache-Control": "How long the answer may be kept (`no-store` for short-lived download links)",
    "Retry-After": "Seconds to wait before sending the same request again (storage was throttled or busy)",
}
# What each id field names, for every schema field that does not say so itself (one place).
ID_FIELDS = {
    "id": "This entry's id, as the routes of its kind take it in their paths and bodies",
    "companyId": "The company (tenant) id: always the caller's own, from the API key",
    "keyId": "The API key's public id (never its secret)",
    "jobId": "An import job id (GET /companies/{companyId}/imports/{jobId})",
    "inventoryId": "An inventory item id of this company (GET /companies/{companyId}/inventory/{inventoryId})",
    "originalInventoryId": "The inventory item id the reservation was asked for",
    "linkedInventoryId": "The inventory item id now reserved",
    "orderId": "An order id of this company (GET /companies/{companyId}/orders/{orderId})",
    "lineItemId": "An order line item id",
    "orderLineItemId": "The order line item id the reservation belongs to",
    "linkId": "The reservation link id",
    "supplierId": "An organisation id of this company (GET /companies/{companyId}/organisations)",
    "relatedOrganisationId": "An organisation id of this company (GET /companies/{companyId}/organisations)",
    "stockLocationId": "A stock location id of this company (GET /companies/{companyId}/stock-locations)",
    "millCertificationId": "The mill certification id of the item's heat code (resolved by the server)",
    "tagId": "A tag id of this company (GET /companies/{companyId}/tags)",
    "type": "An inventory type id of this company (GET /companies/{companyId}/inventory-types)",
    "material": "An inventory material (grade) id of this company (GET /companies/{companyId}/inventory-materials)",
    "tags": "Tag ids of this company (GET /companies/{companyId}/tags)",
    "changedById": "Who made the change: `key:<key id>` for an API key, `system` for jobs",
    "entityId": "The id of the changed entity",
    "movementId": "The ledger movement id",
    "locationId": "A location id (GET /api/locations)",
    "LocationId": "A location id (GET /api/locations)",
    "UserId": "A user id or email (GET /api/users)",
    "ResourceId": "A product or material id (GET /api/products, GET /api/materials)",
    "productMasterId": "A product or material id of this company (GET /api/products, GET /api/materials)",
    "productId": "A product's numeric id (004 `productId`, shown by GET /v2/products/id/{key})",
    "warehouseId": "A location's numeric id (004 `warehouseId`; 0 is the company's default location)",
    "binId": "A bin id of this company (GET /api/inventory/bins)",
    "lotId": "A lot id of this company (GET /api/inventory rows carry it)",
    "fromLotId": "The lot id the stock leaves (GET /api/inventory rows carry it)",
    "toLotId": "The lot id the stock goes to (GET /api/inventory rows carry it)",
    "holdId": "A hold id of this company (GET /api/inventory/holds)",
    "channelId": "A sales channel id of this company (GET /api/inventory/channels)",
    "categoryId": "A category id of the company's own choosing (free text)",
    "clientId": "An OAuth2 client id of this company (GET /oauth2/clients)",
    "eventId": "A domain event id (GET /events): stable across redeliveries",
    "deliveryId": "A webhook delivery id (GET /webhooks/{webhookId}/deliveries)",
    "webhookId": "A webhook id of this company (GET /webhooks)",
    "stockId": "A stock record id (the 000 inventory item id of the same stock)",
    "lineId": "A line id of the document the path or body names (its `lines[].id`)",
    "batchId": "A cycle count batch id of this company (GET /api/inventory/cycle-count)",
    "taskId": "A put-away task id of this company (GET /api/inventory/put-away)",
    "recordId": "A replenishment record id of this company (GET /api/inventory/replenishment)",
    "requestId": "A stock request id of this company (GET /api/stock-requests)",
    "transferId": "A transfer id of this company (GET /api/inventory/transfers/{id})",
    "sourceLocationId": "The location id the stock comes from (GET /api/locations)",
    "fromLocationId": "The location id the stock leaves (GET /api/locations)",
    "toLocationId": "The location id the stock goes to (GET /api/locations)",
    "fromBinId": "The bin id the stock leaves (GET /api/inventory/bins)",
    "toBinId": "The bin id the stock goes to (GET /api/inventory/bins)",
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
    _fill_examples(paths, schemas)
    _describe_ids(schemas)
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
            "(client credentials) as `Authorization: Bearer <token>`: its scopes are its permissions. "
            "Each operation lists only the error statuses it can answer; every answer carries `X-Request-Id`. "
            "Paged lists (a `limit` and `nextToken` query) answer a JSON array and an `X-Next-Token` header while "
            "more remain. Write bodies refuse unknown fields (a 400 naming each).",
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
        return {"required": True, "content": {JSON: media}}
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
    success: dict[str, Any] = {"description": spec.summary, "headers": _headers(spec)}
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
    for status in _error_statuses(spec):
        media = {"schema": {"$ref": REF.format(model="ErrorBody")}, "example": ERROR_EXAMPLES[status]}
        headers = {"X-Request-Id": _header("X-Request-Id")}
        if status == "503":
            headers["Retry-After"] = _header("Retry-After")
        responses[status] = {"description": ERROR_STATUSES[status], "headers": headers, "content": {JSON: media}}
    # A route's own error bodies replace the generic ones for the statuses it names; routing's
    # other answers (415, 413, ...) keep the service's shape.
    for status, (description, model) in (spec.error_responses or {}).items():
        error_body: dict[str, Any] = {"schema": _schema(model, "serialization", schemas)}
        responses[status] = {"description": description, "content": {JSON: error_body}}
    return responses


def paged(spec: Endpoint) -> bool:
    return spec.query is not None and issubclass(spec.query, ListQuery)


def _headers(spec: Endpoint) -> dict[str, Any]:
    names = ["X-Request-Id"]
    if paged(spec):
        names.append(NEXT_TOKEN)
    if spec.method in MUTATING and not spec.public:
        names.append("Idempotent-Replayed")
    names.extend(spec.headers)
    return {name: _header(name) for name in names}


def _header(name: str) -> dict[str, Any]:
    return {"description": HEADERS[name], "schema": {"type": "string"}}


def _error_statuses(spec: Endpoint) -> list[str]:
    """The error statuses this operation can answer: what its routing steps and its inputs allow."""
    takes_body = spec.body is not None or spec.content_types != (JSON,)
    named = [p for p in re.findall(r"{(\w+)}", spec.path) if p != spec.company_param]
    statuses = []
    # A bad query, a bad body, a body where none is taken or a bad Idempotency-Key.
    statuses.append("400")
    if not spec.public:
        statuses += ["401", "403"]
    if named or spec.looks_up or (not spec.public and spec.method != "GET"):
        statuses.append("404")
    if spec.method in MUTATING and not spec.public:
        statuses.append("409")
    if takes_body:
        statuses += ["413", "415"]
    if spec.method in MUTATING and not spec.public:
        statuses.append("422")
    # Storage refusing a call past its retries (Unavailable, with Retry-After): every route that reaches
    # DynamoDB, i.e. every authenticated one (the key is read) and the public ones that write (the token route).
    if not spec.public or spec.method in MUTATING:
        statuses.append("503")
    return statuses


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
    parameters = []
    for name, schema in model_schema.get("properties", {}).items():
        parameter = {"name": name, "in": "query", "required": name in required, "schema": schema}
        if "description" in schema:
            parameter["description"] = schema["description"]
        if schema.pop("x-extension", False):
            # A parameter Stockroom adds to a documented operation (asOf).
            parameter["x-extension"] = True
        if paged(spec) and name == "limit":
            # The one page size of every list, from the settings the route reads.
            settings = get_settings()
            low, high = 1, settings.max_page_size
            parameter["schema"] = {"type": "integer", "minimum": low, "maximum": high}
            parameter["schema"]["default"] = settings.default_page_size
            parameter["description"] = f"Items per page, {low} to {high} (default {settings.default_page_size})"
        parameters.append(parameter)
    return parameters


def _describe_ids(schemas: dict[str, Any]) -> None:
    """Every id field says what it names (a field's own description wins)."""
    for schema in schemas.values():
        for name, prop in schema.get("properties", {}).items():
            if name in ID_FIELDS and "description" not in prop:
                prop["description"] = ID_FIELDS[name]


def _fill_examples(paths: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Every JSON request and success body without a declared example gets one made from its schema."""
    for operations in paths.values():
        for operation in operations.values():
            bodies = [operation.get("requestBody", {}).get("content", {}).get(JSON)]
            bodies += [
                response.get("content", {}).get(JSON)
                for status, response in operation["responses"].items()
                if status.startswith(("2", "3"))
            ]
            for media in bodies:
                if media is not None and "example" not in media and "schema" in media:
                    media["example"] = example(media["schema"], schemas)


class _Schemas(GenerateJsonSchema):
    """pydantic's JSON Schema, except that a Decimal is what the API sends and takes: a JSON number
    (pydantic documents a string when serialising, and number-or-string when validating)."""

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        generated: JsonSchemaValue = {"type": "number", "format": "decimal"}
        self.update_with_validations(generated, schema, self.ValidationsMapping.numeric)
        return generated

    def encode_default(self, dft: Any) -> Any:
        # A Decimal default is documented as the number it is, as the schema above says.
        if isinstance(dft, Decimal):
            return int(dft) if dft == dft.to_integral_value() else float(dft)
        return super().encode_default(dft)


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
