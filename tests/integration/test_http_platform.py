"""The HTTP layer through the real app: authentication, permissions, request
validation, body limits, the OpenAPI document, the offline docs page, and
API key administration. moto in-process; requests go through chalice.test.Client.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import pytest_socket
from chalice.test import Client
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from app import app
from chalicelib import wiring
from chalicelib.core.models import Tenant
from chalicelib.core.tenancy.permissions import ALL_PERMISSIONS
from chalicelib.core.tenancy.tenants import format_key
from chalicelib.http import routing
from chalicelib.settings import get_settings, reset_settings
from chalicelib.storage.aws import client

pytestmark = pytest.mark.shared_aws

JSON = "application/json"
Headers = dict[str, str]


@pytest.fixture
def http(aws: None) -> Iterator[Client]:
    wiring.reset()
    with Client(app) as test_client:
        yield test_client
    wiring.reset()


@pytest.fixture
def offline_http() -> Iterator[Client]:
    """The public routes need no AWS at all: with sockets off, any AWS call would fail the test."""
    pytest_socket.disable_socket(allow_unix_socket=False)
    try:
        with Client(app) as test_client:
            yield test_client
    finally:
        pytest_socket.enable_socket()


TenantFactory = Callable[..., tuple[Tenant, str]]


@pytest.fixture
def new_tenant(http: Client) -> TenantFactory:
    # The first key holds every permission, so it may grant any key the tests issue.
    def create(name: str = "Acme", permissions: tuple[str, ...] = tuple(sorted(ALL_PERMISSIONS))) -> tuple[Tenant, str]:
        return wiring.tenant_service().create_tenant(name, permissions)

    return create


@pytest.fixture
def small_body_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    limit = 256
    monkeypatch.setenv("STOCKROOM_MAX_BODY_BYTES", str(limit))
    reset_settings()
    yield limit
    monkeypatch.undo()
    reset_settings()


def key_header(raw: str) -> Headers:
    return {"X-API-Key": raw}


def key_id_of(raw: str) -> str:
    return raw.split("_")[2]


def secret_of(raw: str) -> str:
    return raw.split("_")[3]


def body_of(response: Any) -> Any:
    """The response as a JSON client sees it, after checking it is JSON with a request id."""
    assert response.headers["Content-Type"] == JSON
    assert response.headers.get("X-Request-Id")
    return json.loads(response.body)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.body
    body = body_of(response)
    assert body["code"] == code
    assert isinstance(body["error"], str)
    assert body["error"]
    assert isinstance(body["details"], list)
    return body


def post_key(http: Client, raw: str, payload: Any, headers: Headers | None = None) -> Any:
    body = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    return http.http.post("/api-keys", headers={**key_header(raw), "Content-Type": JSON, **(headers or {})}, body=body)


def listed_keys(http: Client, raw: str) -> list[dict[str, Any]]:
    response = http.http.get("/api-keys", headers=key_header(raw))
    assert response.status_code == 200, response.body
    return body_of(response)


# --- authentication -----------------------------------------------------------

WAYS_TO_PASS_A_KEY: dict[str, Callable[[str], tuple[str, Headers]]] = {
    "Authorization: Bearer": lambda raw: ("/whoami", {"Authorization": f"Bearer {raw}"}),
    "Authorization: bearer (any case)": lambda raw: ("/whoami", {"authorization": f"bearer {raw}"}),
    "X-API-Key": lambda raw: ("/whoami", {"X-API-Key": raw}),
    "x-api-key (any case)": lambda raw: ("/whoami", {"x-api-key": raw}),
    "X-Inventora-API-Key": lambda raw: ("/whoami", {"X-Inventora-API-Key": raw}),
    "x-inventora-api-key query": lambda raw: (f"/whoami?x-inventora-api-key={raw}", {}),
}


def test_given_valid_key_when_passed_any_documented_way_then_caller_is_its_tenant(
    http: Client, new_tenant: TenantFactory
) -> None:
    # Given
    tenant, raw = new_tenant("Acme", ("inventory.read", "tasks.read"))

    for way, request in WAYS_TO_PASS_A_KEY.items():
        path, headers = request(raw)

        # When
        response = http.http.get(path, headers=headers)

        # Then
        assert response.status_code == 200, (way, response.body)
        assert body_of(response) == {
            "companyId": tenant.tenant_id,
            "keyId": key_id_of(raw),
            "name": "initial key",
            "permissions": ["inventory.read", "tasks.read"],
        }, way


def test_given_no_key_when_calling_then_401_api_key_missing(http: Client) -> None:
    for headers in ({}, {"X-API-Key": ""}, {"X-Inventora-API-Key": ""}):
        response = http.http.get("/whoami", headers=headers)

        body = assert_error(response, 401, "UNAUTHENTICATED")
        assert body["error"] == "API key missing", headers


MALFORMED_CREDENTIALS: list[Headers] = [
    {"X-API-Key": "not-a-key"},
    {"X-API-Key": "sr_"},
    {"X-API-Key": "sr_nothex_abc_def"},
    {"X-API-Key": "sr_" + "0" * 32 + "__secret"},
    {"X-API-Key": "xx_" + uuid.uuid4().hex + "_abc_def"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Bearer "},
    {"Authorization": "Token abc"},
    {"X-Inventora-API-Key": "\u00fcnicode_key"},
]


def test_given_malformed_key_when_calling_then_401(http: Client) -> None:
    for headers in MALFORMED_CREDENTIALS:
        assert_error(http.http.get("/whoami", headers=headers), 401, "UNAUTHENTICATED")


def test_given_well_formed_but_unknown_key_when_calling_then_401(http: Client, new_tenant: TenantFactory) -> None:
    # Given a real tenant, and keys shaped right that were never issued
    tenant, raw = new_tenant()
    unknown_id = format_key(tenant.tenant_id, "0123456789abcdef", secret_of(raw))
    unknown_tenant = format_key(str(uuid.uuid4()), key_id_of(raw), secret_of(raw))

    # Then
    for candidate in (unknown_id, unknown_tenant):
        body = assert_error(http.http.get("/whoami", headers=key_header(candidate)), 401, "UNAUTHENTICATED")
        assert body["error"] == "Invalid API key"


def test_given_key_with_wrong_secret_when_calling_then_401(http: Client, new_tenant: TenantFactory) -> None:
    # Given
    tenant, raw = new_tenant()
    wrong = format_key(tenant.tenant_id, key_id_of(raw), "f" * 64)
    truncated = raw[:-1]

    # Then
    for candidate in (wrong, truncated, raw + "0"):
        body = assert_error(http.http.get("/whoami", headers=key_header(candidate)), 401, "UNAUTHENTICATED")
        assert body["error"] == "Invalid API key"
    assert http.http.get("/whoami", headers=key_header(raw)).status_code == 200


def test_given_revoked_key_when_calling_then_401_and_other_keys_still_work(
    http: Client, new_tenant: TenantFactory
) -> None:
    # Given an admin key and a second key issued through the API
    _, admin = new_tenant()
    issued = body_of(post_key(http, admin, {"name": "scanner", "permissions": ["inventory.read"]}))
    assert http.http.get("/whoami", headers=key_header(issued["apiKey"])).status_code == 200

    # When the admin revokes it
    response = http.http.delete(f"/api-keys/{issued['keyId']}", headers=key_header(admin))

    # Then
    assert response.status_code == 200, response.body
    assert body_of(response)["revoked"] is True
    for way in WAYS_TO_PASS_A_KEY.values():
        path, headers = way(issued["apiKey"])
        body = assert_error(http.http.get(path, headers=headers), 401, "UNAUTHENTICATED")
        assert body["error"] == "Invalid API key"
    assert http.http.get("/whoami", headers=key_header(admin)).status_code == 200
    revoked = {k["keyId"]: k["revoked"] for k in listed_keys(http, admin)}
    assert revoked == {key_id_of(admin): False, issued["keyId"]: True}


# --- permissions and tenancy --------------------------------------------------


def test_given_key_without_permission_when_calling_then_403_naming_it_and_nothing_written(
    http: Client, new_tenant: TenantFactory
) -> None:
    # Given a tenant whose second key may only read tasks
    _, admin = new_tenant()
    reader = body_of(post_key(http, admin, {"name": "reader", "permissions": ["tasks.read"]}))["apiKey"]

    # When it tries the admin routes
    listing = http.http.get("/api-keys", headers=key_header(reader))
    issuing = post_key(http, reader, {"name": "sneaky", "permissions": ["admin"]})
    # A bad body must not reveal more than the 403 does
    issuing_junk = post_key(http, reader, "{not json")
    revoking = http.http.delete(f"/api-keys/{key_id_of(admin)}", headers=key_header(reader))

    # Then
    for response in (listing, issuing, issuing_junk, revoking):
        body = assert_error(response, 403, "FORBIDDEN")
        assert "admin" in body["error"]
        assert body["details"][0]["field"] == "permissions"
    assert len(listed_keys(http, admin)) == 2
    assert http.http.get("/whoami", headers=key_header(admin)).status_code == 200


def test_given_two_tenants_when_each_calls_then_the_tenant_comes_from_the_key(
    http: Client, new_tenant: TenantFactory
) -> None:
    # Given
    tenant_a, key_a = new_tenant("A")
    tenant_b, key_b = new_tenant("B")

    # When A issues a key, even naming B in the query string
    issued = body_of(
        http.http.post(
            f"/api-keys?companyId={tenant_b.tenant_id}",
            headers={**key_header(key_a), "Content-Type": JSON},
            body=json.dumps({"name": "a2", "permissions": ["tasks.read"]}),
        )
    )

    # Then each key answers for its own tenant only
    assert body_of(http.http.get("/whoami", headers=key_header(key_a)))["companyId"] == tenant_a.tenant_id
    assert body_of(http.http.get("/whoami", headers=key_header(key_b)))["companyId"] == tenant_b.tenant_id
    assert body_of(http.http.get("/whoami", headers=key_header(issued["apiKey"])))["companyId"] == tenant_a.tenant_id
    assert {k["keyId"] for k in listed_keys(http, key_a)} == {key_id_of(key_a), issued["keyId"]}
    assert {k["keyId"] for k in listed_keys(http, key_b)} == {key_id_of(key_b)}


def test_given_body_naming_another_company_when_issuing_then_400_and_nothing_written(
    http: Client, new_tenant: TenantFactory
) -> None:
    _, key_a = new_tenant("A")
    tenant_b, _ = new_tenant("B")

    response = post_key(http, key_a, {"name": "x", "permissions": ["admin"], "companyId": tenant_b.tenant_id})

    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert [d["field"] for d in body["details"]] == ["companyId"]
    assert len(listed_keys(http, key_a)) == 1


def test_given_key_of_another_tenant_when_revoking_then_404_and_it_keeps_working(
    http: Client, new_tenant: TenantFactory
) -> None:
    # Given
    _, key_a = new_tenant("A")
    _, key_b = new_tenant("B")

    # When A tries to revoke B's key, by B's key id
    response = http.http.delete(f"/api-keys/{key_id_of(key_b)}", headers=key_header(key_a))

    # Then it looks exactly like a key that does not exist
    body = assert_error(response, 404, "NOT_FOUND")
    missing = assert_error(http.http.delete("/api-keys/ffffffffffffffff", headers=key_header(key_a)), 404, "NOT_FOUND")
    assert body["error"].replace(key_id_of(key_b), "ID") == missing["error"].replace("ffffffffffffffff", "ID")
    assert http.http.get("/whoami", headers=key_header(key_b)).status_code == 200
    assert [k["revoked"] for k in listed_keys(http, key_b)] == [False]


# --- API keys: shown once -----------------------------------------------------


def test_given_issued_key_when_listing_then_neither_the_key_nor_its_hash_is_ever_shown_again(
    http: Client, new_tenant: TenantFactory
) -> None:
    # Given
    _, admin = new_tenant()

    # When
    response = post_key(http, admin, {"name": "till 3", "permissions": ["inventory.write", "inventory.read"]})

    # Then the key is shown once, and works
    assert response.status_code == 201, response.body
    issued = body_of(response)
    raw = issued["apiKey"]
    assert raw.startswith("sr_")
    assert issued["keyId"] == key_id_of(raw)
    assert issued["permissions"] == ["inventory.read", "inventory.write"]
    assert http.http.get("/whoami", headers=key_header(raw)).status_code == 200

    listing = http.http.get("/api-keys", headers=key_header(admin))
    text = listing.body.decode()
    for raw_key in (raw, admin):
        secret = secret_of(raw_key)
        assert secret not in text
        assert hashlib.sha256(secret.encode()).hexdigest() not in text
    assert "hash" not in text.lower()
    assert "apiKey" not in text
    entries = body_of(listing)
    assert {frozenset(e) for e in entries} == {frozenset({"keyId", "name", "permissions", "revoked", "createdAt"})}

    # And storage holds only the hash of the secret
    items = client("dynamodb").scan(TableName=get_settings().main_table)["Items"]
    stored = json.dumps(items)
    assert secret_of(raw) not in stored
    assert hashlib.sha256(secret_of(raw).encode()).hexdigest() in stored


# --- request bodies -----------------------------------------------------------


NOT_JSON: list[str | bytes] = [
    "{bad",
    '{"name": "x", "permissions": ["admin"]',
    '{"name": "x", "permissions": ["admin"]} trailing',
    '{"name": "x", "permissions": ["admin"], "n": NaN}',
    '{"name": "x", "permissions": ["admin"], "n": Infinity}',
    b"\xff\xfe\xfa",
]


def test_given_body_that_is_not_json_when_posting_then_400_invalid_json_and_nothing_written(
    http: Client, new_tenant: TenantFactory
) -> None:
    _, admin = new_tenant()

    for raw_body in NOT_JSON:
        body = assert_error(post_key(http, admin, raw_body), 400, "INVALID_JSON")

        assert body["details"][0]["field"] == "body", raw_body
    assert len(listed_keys(http, admin)) == 1


def test_given_missing_body_when_posting_then_400_body_required(http: Client, new_tenant: TenantFactory) -> None:
    _, admin = new_tenant()

    for raw_body in ("", "   ", "\n"):
        body = assert_error(post_key(http, admin, raw_body), 400, "BODY_REQUIRED")

        assert body["details"] == [{"field": "body", "message": "request body is required"}]
    assert len(listed_keys(http, admin)) == 1


INVALID_FIELDS: list[tuple[Any, set[str]]] = [
    ({"name": "", "permissions": ["inventory.read", "no.such"], "extra": 1}, {"name", "permissions", "extra"}),
    ({"name": 5, "permissions": "admin"}, {"name", "permissions"}),
    ({"permissions": []}, {"name", "permissions"}),
    ({"name": "x" * 101, "permissions": ["admin", 7]}, {"name", "permissions[1]"}),
    ([{"name": "x", "permissions": ["admin"]}], {"body"}),
]


def test_given_invalid_fields_when_posting_then_400_naming_each_field_and_nothing_written(
    http: Client, new_tenant: TenantFactory
) -> None:
    _, admin = new_tenant()

    for payload, fields in INVALID_FIELDS:
        body = assert_error(post_key(http, admin, payload), 400, "VALIDATION_ERROR")

        assert {d["field"] for d in body["details"]} == fields, payload
        assert all(d["message"] for d in body["details"])
        for name in fields:
            assert name in body["error"]
    assert len(listed_keys(http, admin)) == 1


def test_given_body_over_the_limit_when_posting_then_413_and_nothing_written(
    http: Client, new_tenant: TenantFactory, small_body_limit: int
) -> None:
    # Given a valid body, padded just past the limit
    _, admin = new_tenant()
    valid = {"name": "big", "permissions": ["inventory.read"]}
    small = json.dumps(valid)
    padded = small + " " * (small_body_limit + 1 - len(small))
    assert len(padded.encode()) == small_body_limit + 1

    # When
    response = post_key(http, admin, padded, headers={"Idempotency-Key": "big-1"})

    # Then
    body = assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert str(small_body_limit) in body["error"]
    assert len(listed_keys(http, admin)) == 1
    # Not even the idempotency key was taken: the same key with a body that fits runs
    exact = small + " " * (small_body_limit - len(small))
    retried = post_key(http, admin, exact, headers={"Idempotency-Key": "big-1"})
    assert retried.status_code == 201, retried.body
    assert "Idempotent-Replayed" not in retried.headers
    assert len(listed_keys(http, admin)) == 2


def test_given_body_over_the_limit_without_a_key_when_posting_then_401_first(
    offline_http: Client, small_body_limit: int
) -> None:
    # Nobody learns a route's limits before proving who they are: 401, then 403, then the request itself.
    response = offline_http.http.post("/api-keys", headers={"Content-Type": JSON}, body="x" * (small_body_limit * 4))

    assert_error(response, 401, "UNAUTHENTICATED")


# --- OpenAPI and docs -----------------------------------------------------------


def test_given_app_when_fetching_openapi_then_valid_31_listing_every_endpoint_with_permissions(
    offline_http: Client,
) -> None:
    # When
    response = offline_http.http.get("/openapi.json")

    # Then it is a valid OpenAPI 3.1 document
    assert response.status_code == 200
    document = body_of(response)
    assert document["openapi"].startswith("3.1")
    validate(document, cls=OpenAPIV31SpecValidator)

    # that lists every declared endpoint, with its permissions
    paths = document["paths"]
    for spec in routing.ENDPOINTS:
        operation = paths[spec.path][spec.method.lower()]
        if spec.public:
            # Public, or (the OAuth2 token route) taking its own credential, optionally.
            taken = [{name: []} for name in spec.security_schemes]
            assert operation["security"] == ([*taken, {}] if taken else [])
            assert "x-permissions" not in operation
        else:
            assert operation["x-permissions"] == list(spec.permissions or ())
            assert operation["security"], f"{spec.method} {spec.path} must name its security schemes"
            assert "401" in operation["responses"]
            assert "403" in operation["responses"]

    # and every route the app serves, but the 405 answers for methods a path does not take
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            if entry.view_function.__module__ == "chalicelib.http.fallbacks":
                assert method.lower() not in paths[path], f"{method} {path} is a 405 but documented"
                continue
            assert method.lower() in paths[path], f"{method} {path} missing from /openapi.json"

    operation_ids = [op["operationId"] for item in paths.values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))

    # and every $ref names a real schema, none of them a bare reference to itself
    schemas = document["components"]["schemas"]
    for reference in re.findall(r'"\$ref": "([^"]+)"', json.dumps(document)):
        name = reference.removeprefix("#/components/schemas/")
        assert name in schemas, reference
        assert schemas[name].get("$ref") != reference, f"{name} refers to itself"
    assert schemas["ErrorBody"]["required"] == ["error", "code"]


def test_given_openapi_when_reading_issue_key_then_body_schema_and_idempotency_header_are_described(
    offline_http: Client,
) -> None:
    document = body_of(offline_http.http.get("/openapi.json"))

    operation = document["paths"]["/api-keys"]["post"]
    assert operation["x-permissions"] == ["admin"]
    reference = operation["requestBody"]["content"][JSON]["schema"]["$ref"]
    schema = document["components"]["schemas"][reference.rsplit("/", 1)[1]]
    assert set(schema["required"]) == {"name", "permissions"}
    assert schema.get("additionalProperties") is False
    assert "Idempotency-Key" in [p["name"] for p in operation["parameters"] if p["in"] == "header"]
    assert {"201", "400", "401", "403", "413", "422"} <= set(operation["responses"])
    revoke = document["paths"]["/api-keys/{keyId}"]["delete"]
    assert [p["name"] for p in revoke["parameters"] if p["in"] == "path"] == ["keyId"]


@pytest.mark.parametrize("address", ["/docs", "/docs/"])
def test_given_docs_page_when_fetched_then_it_is_html_with_only_relative_asset_urls_that_are_served(
    offline_http: Client, address: str
) -> None:
    # When
    response = offline_http.http.get(address)

    # Then it is HTML with no absolute URL anywhere
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers.get("X-Request-Id")
    page = response.body.decode()
    assert "http://" not in page.lower()
    assert "https://" not in page.lower()
    references = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page) + re.findall(r'url\s*:\s*"([^"]*)"', page)
    assert len(references) >= 3
    expected_types = {".css": "text/css", ".js": "application/javascript", ".json": JSON}

    for reference in references:
        # relative: no scheme, no host, and no protocol-relative "//"
        parts = urlsplit(reference)
        assert not parts.scheme
        assert not parts.netloc
        assert not reference.startswith("/")

        # And each resolves, from the page's own address, to something this service serves
        path = urlsplit(urljoin(f"http://stockroom.invalid{address}", reference)).path
        asset = offline_http.http.get(path)
        assert asset.status_code == 200, f"{reference} -> {path}: {asset.status_code}"
        extension = path[path.rfind(".") :]
        assert asset.headers["Content-Type"] == expected_types[extension]
        assert len(asset.body) > 1000


def test_given_docs_assets_when_fetched_then_served_with_content_types_and_unknown_ones_are_404(
    offline_http: Client,
) -> None:
    css = offline_http.http.get("/docs/swagger-ui.css")
    js = offline_http.http.get("/docs/swagger-ui-bundle.js")

    assert (css.status_code, css.headers["Content-Type"]) == (200, "text/css")
    assert (js.status_code, js.headers["Content-Type"]) == (200, "application/javascript")
    assert "SwaggerUIBundle" in js.body.decode()
    for name in ("app.py", "SWAGGER-UI-LICENSE", "..%2Fplatform.py", "swagger-ui.CSS"):
        assert_error(offline_http.http.get(f"/docs/{name}"), 404, "NOT_FOUND")


# --- every response -----------------------------------------------------------


def test_given_any_declared_route_when_answering_then_json_with_a_request_id(
    http: Client, new_tenant: TenantFactory, small_body_limit: int
) -> None:
    # Given
    _, admin = new_tenant()
    _, reader = wiring.tenant_service().create_tenant("Readers", ["tasks.read"])
    post = {**key_header(admin), "Content-Type": JSON}

    # When: successes and every kind of failure
    responses = [
        http.http.get("/health"),
        http.http.get("/openapi.json"),
        http.http.get("/whoami", headers=key_header(admin)),
        http.http.get("/whoami"),
        http.http.get("/whoami", headers=key_header("sr_bad")),
        http.http.get("/api-keys", headers=key_header(reader)),
        http.http.get("/api-keys", headers=key_header(admin)),
        http.http.post("/api-keys", headers=post, body='{"name": "n", "permissions": ["admin"]}'),
        http.http.post("/api-keys", headers=post, body="{"),
        http.http.post("/api-keys", headers=post, body="{}"),
        http.http.post("/api-keys", headers=post, body="x" * (small_body_limit + 1)),
        http.http.post("/api-keys", headers={**post, "Idempotency-Key": "k" * 300}, body="{}"),
        http.http.delete("/api-keys/nope", headers=key_header(admin)),
        http.http.get("/docs/nope"),
    ]

    # Then
    assert sorted({r.status_code for r in responses}) == [200, 201, 400, 401, 403, 404, 413]
    request_ids = [r.headers.get("X-Request-Id") for r in responses]
    assert all(request_ids)
    assert len(set(request_ids)) == len(request_ids)
    for response in responses:
        body = body_of(response)
        if response.status_code >= 400:
            assert set(body) == {"error", "code", "details"}
    health = body_of(responses[0])
    assert health == {"status": "ok"}


def test_given_an_admin_only_key_when_it_mints_a_wider_key_then_403_and_no_key_exists(
    http: Client, new_tenant: TenantFactory
) -> None:
    # Given a key that holds admin and nothing else
    _, admin = new_tenant("Escalation", ("admin",))
    before = listed_keys(http, admin)

    # When it asks for an orders.write key
    response = post_key(http, admin, {"name": "wider", "permissions": ["orders.write"]})

    # Then it is refused naming the permission, and no key was made
    body = assert_error(response, 403, "FORBIDDEN")
    assert body["details"] == [{"field": "permissions", "message": "not held by the calling key: orders.write"}]
    assert listed_keys(http, admin) == before
    # And what it holds it may still grant
    assert post_key(http, admin, {"name": "admins", "permissions": ["admin"]}).status_code == 201


def test_given_json_nested_a_thousand_levels_when_posting_then_400_naming_the_body(
    http: Client, new_tenant: TenantFactory
) -> None:
    _, admin = new_tenant()

    response = post_key(http, admin, '{"name": ' + "[" * 1000 + "]" * 1000 + "}")

    body = assert_error(response, 400, "INVALID_JSON")
    assert body["details"] == [
        {"field": "body", "message": "request body is not valid JSON: nested deeper than 32 levels"}
    ]


def test_given_openapi_then_decimals_are_json_numbers_as_the_api_sends_them(offline_http: Client) -> None:
    # The API writes Decimal as a JSON number (jsonio); a generated client must expect one, not a string.
    document = body_of(offline_http.http.get("/openapi.json"))
    text = json.dumps(document)
    assert '"format": "decimal"' in text
    decimals = re.findall(r'\{[^{}]*"format": "decimal"[^{}]*\}', text)
    assert decimals and all('"type": "number"' in d for d in decimals)
    # pydantic's defaults (a string when serialising, number-or-string when validating) are gone
    assert '"anyOf": [{"type": "number"}, {"type": "string"}]' not in text
    assert '"type": "string", "title": "Stocklevel"' not in text


def test_given_openapi_then_every_link_names_a_real_operation_and_its_path_parameters(offline_http: Client) -> None:
    document = body_of(offline_http.http.get("/openapi.json"))
    operations = {
        op["operationId"]: op for item in document["paths"].values() for op in item.values() if "operationId" in op
    }
    links = [
        link
        for item in document["paths"].values()
        for op in item.values()
        for response in op["responses"].values()
        for link in response.get("links", {}).values()
    ]
    # A created order leads to its GET, details, history and reserve.
    created = document["paths"]["/companies/{companyId}/orders"]["post"]["responses"]["201"]["links"]
    assert {link["operationId"] for link in created.values()} == {
        "get_companies_companyId_orders_orderId",
        "get_companies_companyId_orders_orderId_details",
        "get_companies_companyId_orders_orderId_history",
        "post_companies_companyId_orders_orderId_line_items_lineItemId_reserve",
    }
    for link in links:
        target = operations[link["operationId"]]
        path_names = {p["name"] for p in target["parameters"] if p["in"] == "path"}
        assert path_names <= set(link["parameters"]), link


def test_given_openapi_then_path_ids_are_bounded_and_415_is_documented_where_a_body_is_taken(
    offline_http: Client,
) -> None:
    document = body_of(offline_http.http.get("/openapi.json"))
    for item in document["paths"].values():
        for op in item.values():
            if "requestBody" in op:
                assert "415" in op["responses"]
            for parameter in op["parameters"]:
                if parameter["in"] == "path":
                    assert parameter["schema"]["minLength"] == 1
                    assert parameter["schema"]["maxLength"] == 100
