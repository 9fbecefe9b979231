"""Platform routes: health, the OpenAPI document and the interactive docs."""

from __future__ import annotations

from chalice import Blueprint, Response

platform = Blueprint(__name__)


@platform.route("/health", methods=["GET"])
def health() -> Response:
    return Response(body='{"status":"ok"}', status_code=200, headers={"Content-Type": "application/json"})
