"""Every operation in the OpenAPI document teaches: examples that the route accepts, its headers,
only the errors it can answer, and the page sizes the routes really use."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel, TypeAdapter

import app  # noqa: F401 - registers every route
from chalicelib.http.openapi import document, paged
from chalicelib.http.routing import ENDPOINTS, JSON, MUTATING, Endpoint
from chalicelib.settings import get_settings

pytestmark = pytest.mark.disable_socket
README = Path(__file__).resolve().parents[2] / "README.md"


def operation(spec: Endpoint) -> dict[str, Any]:
    op: dict[str, Any] = document()["paths"][spec.path][spec.method.lower()]
    return op


def success(spec: Endpoint) -> dict[str, Any]:
    response: dict[str, Any] = operation(spec)["responses"][str(spec.status)]
    return response


def name(spec: Endpoint) -> str:
    return f"{spec.method} {spec.path}"


@pytest.mark.parametrize("spec", [s for s in ENDPOINTS if s.body is not None], ids=name)
def test_every_json_request_body_has_an_example_the_route_accepts(spec: Endpoint) -> None:
    media = operation(spec)["requestBody"]["content"][JSON]

    assert "example" in media
    assert spec.body_adapter is not None
    spec.body_adapter.validate_python(media["example"])


@pytest.mark.parametrize("spec", [s for s in ENDPOINTS if s.response is not None], ids=name)
def test_every_json_answer_has_an_example_of_its_schema(spec: Endpoint) -> None:
    media = success(spec)["content"][JSON]

    assert "example" in media
    TypeAdapter(spec.response).validate_python(media["example"])


@pytest.mark.parametrize("spec", ENDPOINTS, ids=name)
def test_every_operation_documents_the_headers_routing_sets(spec: Endpoint) -> None:
    headers = success(spec)["headers"]

    assert "X-Request-Id" in headers
    assert ("X-Next-Token" in headers) == paged(spec)
    assert ("Idempotent-Replayed" in headers) == (spec.method in MUTATING and not spec.public)
    assert set(spec.headers) <= set(headers)
    assert all(h["description"] for h in headers.values())


def test_every_operation_answers_with_a_body_or_says_what_it_produces() -> None:
    silent = [name(s) for s in ENDPOINTS if s.response is None and s.produces is None and s.status != 204]

    # The OpenAPI document itself and the docs page's assets are the only bodies without a schema.
    assert silent == ["GET /openapi.json", "GET /docs/{asset}"]


def test_the_certificate_pack_documents_its_etag() -> None:
    spec = next(s for s in ENDPOINTS if s.path.endswith("/certificate-pack"))

    assert "ETag" in success(spec)["headers"]


def test_only_the_errors_an_operation_can_answer_are_listed() -> None:
    health = next(s for s in ENDPOINTS if s.path == "/health")
    whoami = next(s for s in ENDPOINTS if s.path == "/whoami")
    create = next(s for s in ENDPOINTS if s.path == "/companies/{companyId}/inventory" and s.method == "POST")

    assert set(operation(health)["responses"]) == {"200", "400"}  # a body sent to it
    assert set(operation(whoami)["responses"]) == {"200", "400", "401", "403", "503"}
    assert set(operation(create)["responses"]) == {"201", "400", "401", "403", "404", "409", "413", "415", "422", "503"}
    for status, response in operation(create)["responses"].items():
        if status.startswith("4"):
            assert response["content"][JSON]["example"]["code"]


def test_reserve_says_its_inputs_are_query_parameters_not_body_fields() -> None:
    spec = next(s for s in ENDPOINTS if s.path.endswith("/reserve"))
    parameters = {p["name"]: p for p in operation(spec)["parameters"] if p["in"] == "query"}

    assert set(parameters) == {"inventoryId", "reserveQuantity", "split"}
    assert all("not a body field" in p["description"] for p in parameters.values())
    assert "requestBody" not in operation(spec)


@pytest.mark.parametrize("spec", [s for s in ENDPOINTS if paged(s)], ids=name)
def test_every_paged_list_shows_the_one_page_size_the_settings_give(spec: Endpoint) -> None:
    settings = get_settings()
    (limit,) = [p for p in operation(spec)["parameters"] if p["name"] == "limit"]

    assert limit["schema"]["default"] == settings.default_page_size
    assert limit["schema"]["maximum"] == settings.max_page_size
    assert success(spec)["content"][JSON]["schema"]["type"] == "array"


def test_the_readme_states_the_same_page_sizes() -> None:
    settings = get_settings()
    row = next(line for line in README.read_text().splitlines() if "STOCKROOM_MAX_PAGE_SIZE" in line and "|" in line)

    assert re.findall(r"`(\d+)`", row) == [str(settings.max_page_size), str(settings.default_page_size)]


def test_the_paged_lists_are_the_company_lists() -> None:
    assert {s.path for s in ENDPOINTS if paged(s)} >= {
        "/companies/{companyId}/inventory",
        "/companies/{companyId}/orders",
        "/companies/{companyId}/imports",
    }


def test_every_field_that_takes_an_id_says_of_what() -> None:
    undescribed = [
        f"{model}.{field}"
        for model, schema in document()["components"]["schemas"].items()
        for field, prop in schema.get("properties", {}).items()
        if (field.endswith("Id") or field in {"id", "type", "material", "tags"}) and not prop.get("description")
    ]

    assert undescribed == []


def test_every_schema_name_in_the_document_names_one_model() -> None:
    # Components are keyed by class name: two bodies or answers of the same name would show one of
    # them for both (the fuzzer would then check a route against another route's schema).
    models: dict[str, set[type]] = {}
    for spec in ENDPOINTS:
        errors = [model for _, model in (spec.error_responses or {}).values()]
        for kind in [spec.body, spec.response, *errors]:
            for model in _models_in(kind):
                models.setdefault(model.__name__, set()).add(model)

    assert {name: found for name, found in models.items() if len(found) > 1} == {}


def _models_in(kind: Any, seen: set[type] | None = None) -> set[type]:
    """The pydantic models a type is made of (itself, its fields', their arguments')."""
    seen = set() if seen is None else seen
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        if kind in seen:
            return seen
        seen.add(kind)
        for field in kind.model_fields.values():
            _models_in(field.annotation, seen)
    for argument in get_args(kind):
        _models_in(argument, seen)
    return seen


def test_a_get_whose_query_names_something_that_must_exist_lists_its_404() -> None:
    bins = next(s for s in ENDPOINTS if s.path == "/api/inventory/transfers/bins")
    inventory = next(s for s in ENDPOINTS if s.path == "/api/inventory" and s.method == "GET")

    assert "404" in operation(bins)["responses"]
    assert "404" not in operation(inventory)["responses"]
