"""Every route the app serves is declared through `routing.endpoint` with its
permissions, refuses a missing credential with a 401 and a key without the
permission with a 403, always as JSON. A route that takes any one of several
permissions (`any_of`) refuses a key that holds none of them.

The routes come from `app.routes`, so routes that later surfaces add are
covered without touching this file. The only hard-coded list is the set of
routes that are public on purpose.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import pytest_socket
from chalice import Blueprint, Chalice
from chalice.test import Client

from app import app
from chalicelib import wiring
from chalicelib.core.models import SYSTEM
from chalicelib.core.tenancy.permissions import ALL_PERMISSIONS
from chalicelib.http import routing
from chalicelib.http.routing import Endpoint

pytestmark = pytest.mark.shared_aws

JSON = "application/json"
# Public on purpose: everything else must name the permission it needs.
PUBLIC_ROUTES = frozenset(
    {
        ("/health", "GET"),
        ("/openapi.json", "GET"),
        ("/docs", "GET"),
        ("/docs/{asset}", "GET"),
        ("/oauth2/token", "POST"),  # the client authenticates with its own id and secret
        ("/graphql/schema.graphql", "GET"),  # public as the OpenAPI document is: it holds no data
    }
)
# Keys that hold one unrelated permission each; a route gets the first one it does not accept.
STRANGER_PERMISSIONS = ("tasks.read", "orders.read", "products.read")
# The routes of import jobs of every kind: a key that may read (or start) any one kind gets past the route.
ANY_OF_ROUTES = {
    ("/companies/{companyId}/imports", "GET"): ("inventory.read", "orders.read"),
    ("/companies/{companyId}/imports/{jobId}", "GET"): ("inventory.read", "orders.read"),
    ("/companies/{companyId}/imports/{jobId}/errors.csv", "GET"): ("inventory.read", "orders.read"),
    ("/companies/{companyId}/imports", "POST"): ("inventory.write", "orders.write"),
}

SERVED = sorted((path, method) for path, methods in app.routes.items() for method in methods)
# The 405 answers for methods a path does not take (chalicelib/http/fallbacks.py); every other route is declared.
FALLBACKS = [r for r in SERVED if app.routes[r[0]][r[1]].view_function.__module__ == "chalicelib.http.fallbacks"]
ROUTES = [r for r in SERVED if r not in FALLBACKS]
PROTECTED_ROUTES = [route for route in ROUTES if route not in PUBLIC_ROUTES]


def route_id(route: tuple[str, str]) -> str:
    return f"{route[1]} {route[0]}"


def declared(path: str, method: str) -> Endpoint:
    specs = [e for e in routing.ENDPOINTS if e.path == path and e.method == method]
    assert len(specs) == 1, f"{method} {path} is served but declared {len(specs)} times through routing.endpoint"
    return specs[0]


def mentioned(spec: Endpoint) -> frozenset[str]:
    """Every permission the route names, whether it needs all of them or one."""
    return frozenset(spec.permissions or ()) | frozenset(spec.any_of)


def concrete(path: str) -> str:
    """The route's path with a dummy value in each parameter."""
    return re.sub(r"{(\w+)\+?}", lambda m: f"dummy-{m.group(1)}", path)


def request(client: Client, path: str, method: str, headers: dict[str, str]) -> Any:
    spec = declared(path, method)
    # Chalice answers 415 itself, before the route runs, if the content type is not one the route takes.
    headers = {"Content-Type": spec.content_types[0], **headers}
    body = b"{}" if method in routing.MUTATING else b""
    return client.http.request(method, concrete(path), headers=headers, body=body)


def json_error(response: Any) -> dict[str, Any]:
    assert response.headers.get("Content-Type") == JSON
    assert response.headers.get("X-Request-Id")
    body = json.loads(response.body)
    assert set(body) == {"error", "code", "details"}
    return body


@pytest.fixture
def offline_http() -> Iterator[Client]:
    """A missing credential is refused before any storage call: sockets stay off."""
    pytest_socket.disable_socket(allow_unix_socket=False)
    try:
        with Client(app) as client:
            yield client
    finally:
        pytest_socket.enable_socket()


@pytest.fixture
def http(aws: None) -> Iterator[Client]:
    wiring.reset()
    with Client(app) as client:
        yield client
    wiring.reset()


def test_given_app_then_it_serves_routes_beyond_the_public_ones() -> None:
    assert PROTECTED_ROUTES, "the route table test would check nothing"
    assert ("/whoami", "GET") in PROTECTED_ROUTES


def test_given_public_route_list_then_each_entry_is_served_and_public() -> None:
    # Keeps the hard-coded list honest: no stale entries, and nothing in it needs a key.
    for path, method in PUBLIC_ROUTES:
        assert (path, method) in ROUTES, f"{method} {path} is listed as public but not served"
        assert declared(path, method).public


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_given_served_route_then_it_is_declared_through_endpoint_with_permissions(route: tuple[str, str]) -> None:
    # Given
    path, method = route

    # When
    spec = declared(path, method)

    # Then its view is the endpoint dispatcher, not a hand-written chalice route
    view = app.routes[path][method].view_function
    assert view.__module__ == routing.__name__
    assert view.__qualname__.startswith("endpoint.")
    # And it names its permissions, all of them real ones, unless it is public on purpose
    if route in PUBLIC_ROUTES:
        assert spec.permissions is None
        assert spec.any_of == ()
    else:
        assert spec.permissions is not None, f"{method} {path} is public but not in PUBLIC_ROUTES"
        assert mentioned(spec) <= ALL_PERMISSIONS, f"{method} {path}: unknown {sorted(mentioned(spec))}"


def test_given_import_job_routes_then_they_take_any_one_of_the_kinds_permissions() -> None:
    # The job's kind decides the exact permission, so the route lets through a key holding one of them.
    for (path, method), any_of in ANY_OF_ROUTES.items():
        spec = declared(path, method)
        assert (spec.permissions, set(spec.any_of)) == ((), set(any_of)), f"{method} {path}"
    # And no other route relaxes its permissions that way unnoticed.
    relaxed = {(e.path, e.method) for e in routing.ENDPOINTS if e.any_of}
    assert relaxed == set(ANY_OF_ROUTES)


def test_given_endpoint_without_permissions_or_public_when_declared_then_it_raises() -> None:
    # Given
    bp = Blueprint(__name__)
    declared_before = list(routing.ENDPOINTS)

    # When / Then
    with pytest.raises(ValueError, match="must declare its permissions"):
        routing.endpoint(bp, "/nowhere", "GET", summary="No permission", tag="Test")
    with pytest.raises(ValueError, match="must declare its permissions"):
        routing.endpoint(bp, "/nowhere", "POST", summary="No permission", tag="Test", permissions=None, public=False)

    # And nothing was declared
    assert declared_before == routing.ENDPOINTS


def test_given_endpoint_with_empty_any_of_when_declared_then_it_raises() -> None:
    # Given
    bp = Blueprint(__name__)
    declared_before = list(routing.ENDPOINTS)

    # When / Then: no key can hold one of no permissions, so the route could never be called
    with pytest.raises(ValueError, match="any_of needs at least one permission"):
        routing.endpoint(bp, "/nowhere", "GET", summary="Nobody", tag="Test", any_of=[])
    assert declared_before == routing.ENDPOINTS


def test_given_any_of_route_when_called_then_one_of_the_permissions_is_enough(http: Client) -> None:
    # Given a throwaway route that takes tasks.read or products.read
    bp = Blueprint(__name__)
    declared_before = list(routing.ENDPOINTS)
    probe = Chalice("probe")
    routing.endpoint(bp, "/probe", "GET", summary="Probe", tag="Test", any_of=["tasks.read", "products.read"])(
        lambda call: {"tenant": call.tenant_id}
    )
    routing.ENDPOINTS[:] = declared_before
    probe.register_blueprint(bp)
    service = wiring.tenant_service()
    tenant, _ = service.create_tenant("Probe", ["admin"])
    keys = {p: service.issue_key(tenant.tenant_id, p, [p], SYSTEM)[1] for p in ("tasks.read", "products.read")}
    _, neither = service.issue_key(tenant.tenant_id, "neither", ["orders.read", "inventory.read"], SYSTEM)

    with Client(probe) as client:
        # When / Then: either permission alone gets through
        for key in keys.values():
            response = client.http.get("/probe", headers={"X-API-Key": key})
            assert response.status_code == 200, response.body
            assert json.loads(response.body) == {"tenant": tenant.tenant_id}

        # And a key with neither is refused, naming both
        refused = client.http.get("/probe", headers={"X-API-Key": neither})
        assert refused.status_code == 403
        body = json_error(refused)
        assert body["code"] == "FORBIDDEN"
        assert "tasks.read, products.read" in body["error"]
        assert body["details"] == [{"field": "permissions", "message": "requires one of tasks.read, products.read"}]


@pytest.mark.parametrize("route", PROTECTED_ROUTES, ids=route_id)
def test_given_protected_route_when_called_without_credential_then_401_json(
    offline_http: Client, route: tuple[str, str]
) -> None:
    # When
    response = request(offline_http, *route, headers={})

    # Then
    assert response.status_code == 401, response.body
    body = json_error(response)
    assert body["code"] == "UNAUTHENTICATED"
    assert body["error"] == "API key missing"


def test_given_key_without_the_permission_when_calling_each_protected_route_then_403_json(http: Client) -> None:
    # Given one tenant with keys that each hold a single, unrelated permission
    service = wiring.tenant_service()
    tenant, _ = service.create_tenant("Strangers", ["admin"])
    strangers = {p: service.issue_key(tenant.tenant_id, p, [p], SYSTEM)[1] for p in STRANGER_PERMISSIONS}
    checked: list[str] = []
    failures: list[str] = []

    for path, method in PROTECTED_ROUTES:
        # An outsider holds none of the route's permissions: for an any_of route, not even one of them.
        required = mentioned(declared(path, method))
        outsider = next((p for p in STRANGER_PERMISSIONS if p not in required), None)
        if not required or outsider is None:
            # No permission named means any valid key; nothing to withhold.
            continue

        # When
        response = request(http, path, method, headers={"X-API-Key": strangers[outsider]})

        # Then
        checked.append(f"{method} {path}")
        try:
            assert response.status_code == 403, f"got {response.status_code}: {response.body!r}"
            body = json_error(response)
            assert body["code"] == "FORBIDDEN"
            # Refused for the permission, not later for something else (the dummy path's company).
            assert [d["field"] for d in body["details"]] == ["permissions"], body
        except AssertionError as error:
            failures.append(f"{method} {path} with a {outsider} key: {error}")

    assert not failures, "\n".join(failures)
    assert "GET /api-keys" in checked
    assert {f"{method} {path}" for path, method in ANY_OF_ROUTES} <= set(checked)


def test_given_a_token_without_the_permission_when_calling_each_protected_route_then_403_json(http: Client) -> None:
    # Given one client per unrelated permission, and a token of each (its scopes are its permissions)
    from chalicelib.http import tokens

    service = wiring.tenant_service()
    tenant, _ = service.create_tenant("Token strangers", ["admin", *STRANGER_PERMISSIONS])
    clients = wiring.client_service()
    policy = _token_policy()
    strangers = {}
    for permission in STRANGER_PERMISSIONS:
        client, _ = clients.create_client(tenant.tenant_id, permission, [permission], SYSTEM, None)
        strangers[permission] = tokens.sign(clients.issue(client, None, policy))
    checked: list[str] = []
    failures: list[str] = []

    for path, method in PROTECTED_ROUTES:
        required = mentioned(declared(path, method))
        outsider = next((p for p in STRANGER_PERMISSIONS if p not in required), None)
        if not required or outsider is None:
            continue

        # When
        response = request(http, path, method, headers={"Authorization": f"Bearer {strangers[outsider]}"})

        # Then the same refusal as a key's, with the RFC 6750 challenge naming the scope
        checked.append(f"{method} {path}")
        try:
            assert response.status_code == 403, f"got {response.status_code}: {response.body!r}"
            body = json_error(response)
            assert body["code"] == "FORBIDDEN"
            assert [d["field"] for d in body["details"]] == ["permissions"], body
            assert response.headers["WWW-Authenticate"].startswith('Bearer error="insufficient_scope"')
        except AssertionError as error:
            failures.append(f"{method} {path} with a {outsider} token: {error}")

    assert not failures, "\n".join(failures)
    assert {"GET /api-keys", "POST /oauth2/clients"} <= set(checked)


@pytest.mark.parametrize("route", PROTECTED_ROUTES, ids=route_id)
def test_given_a_forged_token_then_every_protected_route_is_401_invalid_token(
    offline_http: Client, route: tuple[str, str]
) -> None:
    # A token signed with a key the service does not hold: refused before any storage call.
    import jwt

    claims = {"iss": "x", "aud": "x", "sub": "x", "iat": 0, "exp": 2**31}
    not_ours = "not-the-service-key-not-the-service-key"
    forged = jwt.encode(claims, not_ours, algorithm="HS256", headers={"kid": "default"})

    response = request(offline_http, *route, headers={"Authorization": f"Bearer {forged}"})

    assert response.status_code == 401, response.body
    assert json_error(response)["code"] == "INVALID_TOKEN"
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def _token_policy() -> Any:
    from chalicelib.core.tenancy.clients import TokenPolicy
    from chalicelib.settings import get_settings

    settings = get_settings()
    return TokenPolicy(settings.oauth_issuer, settings.oauth_audience, settings.oauth_token_seconds)


COMPANY_ROUTES = [route for route in PROTECTED_ROUTES if "{companyId}" in route[0]]


@pytest.mark.parametrize("route", PROTECTED_ROUTES, ids=route_id)
def test_given_no_credential_and_a_media_type_the_route_does_not_take_then_still_401(
    offline_http: Client, route: tuple[str, str]
) -> None:
    # Nobody learns which media types a route takes before proving who they are.
    path, method = route
    response = offline_http.http.request(method, concrete(path), headers={"Content-Type": "image/gif"}, body=b"GIF89a")
    assert response.status_code == 401, response.body
    assert json_error(response)["code"] == "UNAUTHENTICATED"


def test_given_every_company_route_then_it_declares_its_company_parameter() -> None:
    assert COMPANY_ROUTES, "no company route found"
    undeclared = [f"{m} {p}" for p, m in COMPANY_ROUTES if declared(p, m).company_param != "companyId"]
    assert undeclared == []


def test_given_another_companys_key_then_every_company_route_is_403_whatever_the_body(http: Client) -> None:
    # Given a key of another company that holds every permission
    service = wiring.tenant_service()
    tenant, _ = service.create_tenant("Elsewhere", ["admin"])
    _, key = service.issue_key(tenant.tenant_id, "all", sorted(ALL_PERMISSIONS), SYSTEM)
    failures: list[str] = []

    for path, method in COMPANY_ROUTES:
        for content_type, body in ((JSON, b"{}"), (JSON, b"not json"), ("image/gif", b"GIF89a")):
            # When it calls a company path that is not its own, with a bad body or media type
            headers = {"X-API-Key": key, "Content-Type": content_type}
            response = http.http.request(method, concrete(path), headers=headers, body=body)

            # Then the answer is the company refusal, never a description of the route's body
            try:
                assert response.status_code == 403, f"got {response.status_code}: {response.body!r}"
                assert json_error(response)["details"] == [
                    {"field": "companyId", "message": "not the company of this API key"}
                ]
            except AssertionError as error:
                failures.append(f"{method} {path} ({content_type}): {error}")

    assert not failures, "\n".join(failures)


def test_given_a_wrong_media_type_from_an_allowed_caller_then_415_json(http: Client) -> None:
    service = wiring.tenant_service()
    tenant, _ = service.create_tenant("Media", ["admin"])
    _, key = service.issue_key(tenant.tenant_id, "all", sorted(ALL_PERMISSIONS), SYSTEM)
    path = f"/companies/{tenant.tenant_id}/inventory/csv"

    response = http.http.post(path, headers={"X-API-Key": key, "Content-Type": "image/gif"}, body=b"GIF89a")

    assert response.status_code == 415, response.body
    body = json_error(response)
    assert body["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert body["details"][0]["field"] == "Content-Type"


def test_given_a_declared_path_then_every_other_method_is_a_json_405_naming_the_allowed_ones(
    offline_http: Client,
) -> None:
    declared_paths = {path for path, _ in ROUTES}
    assert {path for path, _ in FALLBACKS} <= declared_paths
    for path in declared_paths:
        allowed = sorted(method for p, method in ROUTES if p == path)
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if method in allowed:
                continue
            response = offline_http.http.request(method, concrete(path), headers={}, body=b"")
            assert response.status_code == 405, f"{method} {path}: {response.status_code}"
            assert response.headers["Allow"] == ", ".join(allowed)
            body = json.loads(response.body)
            assert body["code"] == "METHOD_NOT_ALLOWED"
            assert body["details"] == [{"field": "method", "message": f"allowed: {', '.join(allowed)}"}]
