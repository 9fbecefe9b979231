"""The OpenAPI examples of the 001 availability, analytics and job routes are valid for their own models."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

import chalicelib.http.jobs
import chalicelib.surfaces.warehouse.analytics
import chalicelib.surfaces.warehouse.availability  # noqa: F401 - declares the routes
from chalicelib.http.routing import ENDPOINTS, Endpoint

pytestmark = pytest.mark.disable_socket

MINE = ("/api/inventory/channel", "/api/inventory/availability", "/api/inventory/analytics", "/jobs/")
ROUTES = [e for e in ENDPOINTS if e.path.startswith(MINE)]


def test_every_route_is_here() -> None:
    assert len(ROUTES) == 11


@pytest.mark.parametrize("spec", ROUTES, ids=lambda e: f"{e.method} {e.path}")
def test_examples_match_their_models(spec: Endpoint) -> None:
    assert spec.response is not None and spec.response_example is not None
    TypeAdapter(spec.response).validate_python(spec.response_example)
    if spec.body is not None:
        assert spec.example is not None
        TypeAdapter(spec.body).validate_python(spec.example)
    assert spec.permissions, "every route names its permission"
