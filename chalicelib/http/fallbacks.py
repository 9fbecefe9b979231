"""405 for a route that exists with another method, in the service's error shape.

API Gateway (and Chalice's local server) answers a method a path does not
declare as if the path did not exist; a client deserves to hear that the path
is right and which methods it takes. `method_fallbacks()` is registered after
every surface, so it sees every declared route, and gives each path one view
for the methods it lacks: a JSON 405 with an `Allow` header. It needs no
credential: which methods a path takes is what the public OpenAPI says.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict

from chalice import Blueprint, Response

from chalicelib.http import jsonio
from chalicelib.http.routing import ENDPOINTS, JSON
from chalicelib.observability import request_finished

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def method_fallbacks() -> Blueprint:
    fallbacks = Blueprint(__name__)
    declared: dict[str, set[str]] = defaultdict(set)
    for spec in ENDPOINTS:
        declared[spec.path].add(spec.method)
    for path, methods in declared.items():
        missing = [m for m in METHODS if m not in methods]
        if missing:
            view = _not_allowed(fallbacks, path, sorted(methods))
            fallbacks.route(path, methods=missing, content_types=["*/*"])(view)
    return fallbacks


def _not_allowed(bp: Blueprint, path: str, allowed: list[str]) -> object:
    allow = ", ".join(allowed)

    def method_not_allowed(**params: str) -> Response:
        started = time.perf_counter()
        body = {
            "error": f"this route takes {allow}",
            "code": "METHOD_NOT_ALLOWED",
            "details": [{"field": "method", "message": f"allowed: {allow}"}],
        }
        request_id = str(uuid.uuid4())
        headers: dict[str, str | list[str]] = {"Content-Type": JSON, "Allow": allow, "X-Request-Id": request_id}
        method = bp.current_request.method
        latency_ms = (time.perf_counter() - started) * 1000
        request_finished(
            request_id=request_id,
            route=f"{method} {path}",
            status=405,
            latency_ms=latency_ms,
            tenant_id=None,
            key_id=None,
        )
        return Response(body=jsonio.dumps(body), status_code=405, headers=headers)

    return method_not_allowed
