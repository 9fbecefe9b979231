"""Platform routes: health, the OpenAPI document, the interactive docs (with
assets served by the service itself, so the page works offline), and the
tenant's own API key administration."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated

from chalice import Blueprint
from pydantic import AfterValidator, Field

from chalicelib.core.bodies import Body
from chalicelib.core.errors import NotFound
from chalicelib.core.models import ApiKey, Model
from chalicelib.core.tenancy.permissions import Permission, known_permissions
from chalicelib.http.openapi import document
from chalicelib.http.routing import Call, Reply, endpoint
from chalicelib.wiring import tenant_service

platform = Blueprint(__name__)
STATIC = Path(__file__).with_name("static")
ASSETS = {"swagger-ui-bundle.js": "application/javascript", "swagger-ui.css": "text/css"}
TAG = "Platform"

DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Stockroom API</title>
  <link rel="stylesheet" href="{assets}swagger-ui.css">
</head>
<body>
  <div id="ui"></div>
  <script src="{assets}swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: "{root}openapi.json", dom_id: "#ui", deepLinking: true, tryItOutEnabled: true, validatorUrl: null
    }});
  </script>
</body>
</html>
"""


class Health(Model):
    status: str


class WhoAmI(Model):
    companyId: str
    keyId: str
    name: str
    permissions: list[str]


class NewKey(Body):
    name: str = Field(min_length=1, max_length=100)
    permissions: Annotated[list[str], AfterValidator(known_permissions)] = Field(
        min_length=1, description="Permission strings; see x-permissions per route"
    )


class KeyView(Model):
    keyId: str
    name: str
    permissions: list[str]
    revoked: bool
    createdAt: datetime


class IssuedKey(KeyView):
    apiKey: str | None = Field(description="The key itself. Shown once; only its hash is stored.")


def _view(key: ApiKey) -> KeyView:
    return KeyView(
        keyId=key.key_id, name=key.name, permissions=key.permissions, revoked=key.revoked, createdAt=key.created_at
    )


@endpoint(platform, "/health", "GET", public=True, summary="Health check", tag=TAG, response=Health)
def health(call: Call) -> Health:
    return Health(status="ok")


@endpoint(platform, "/openapi.json", "GET", public=True, summary="OpenAPI 3.1 document", tag=TAG)
def openapi(call: Call) -> dict[str, object]:
    return document()


@endpoint(platform, "/docs", "GET", public=True, summary="Interactive API documentation", tag=TAG, produces="text/html")
def docs(call: Call) -> Reply:
    # `/docs/` is the same page; its relative links then start one level down (API Gateway and
    # chalice's local server route both to this handler, and the context keeps the path as sent).
    slash = str((call.request.context or {}).get("path") or "").endswith("/")
    page = DOCS_PAGE.format(assets="" if slash else "docs/", root="../" if slash else "")
    return Reply(raw=page, content_type="text/html; charset=utf-8")


@endpoint(platform, "/docs/{asset}", "GET", public=True, summary="Documentation page assets", tag=TAG)
def docs_asset(call: Call) -> Reply:
    name = call.path["asset"]
    if name not in ASSETS:
        raise NotFound(f"no documentation asset {name}")
    return Reply(raw=_asset(name), content_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"})


@cache
def _asset(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


@endpoint(
    platform, "/whoami", "GET", permissions=(), summary="The calling key and its company", tag=TAG, response=WhoAmI
)
def whoami(call: Call) -> WhoAmI:
    assert call.principal is not None
    return WhoAmI(
        companyId=call.tenant_id,
        keyId=call.principal.key_id,
        name=call.actor.name,
        permissions=sorted(call.principal.permissions),
    )


@endpoint(
    platform,
    "/api-keys",
    "POST",
    permissions=[Permission.ADMIN],
    summary="Issue an API key for this company",
    tag=TAG,
    body=NewKey,
    response=IssuedKey,
    status=201,
    secret_fields=["apiKey"],
    description=(
        "The key is shown once, and holds at most the calling key's own permissions (403 naming the others). "
        "An Idempotency-Key replay returns the key's details with `apiKey` null: "
        "the secret is never stored. If the first response was lost, revoke that key and issue another."
    ),
)
def issue_key(call: Call) -> IssuedKey:
    new: NewKey = call.body
    assert call.principal is not None
    granted_by = call.principal.permissions
    key, raw = tenant_service().issue_key(call.tenant_id, new.name, new.permissions, call.actor, granted_by)
    return IssuedKey(**_view(key).model_dump(), apiKey=raw)


@endpoint(
    platform,
    "/api-keys",
    "GET",
    permissions=[Permission.ADMIN],
    summary="List API keys",
    tag=TAG,
    response=list[KeyView],
    description="The company's keys (revoked ones included, never a secret) as a JSON array, like the company "
    "surfaces' lists; all of them in one answer (a company holds few keys). Permission: admin.",
)
def list_keys(call: Call) -> list[KeyView]:
    return [_view(k) for k in tenant_service().list_keys(call.tenant_id)]


@endpoint(
    platform,
    "/api-keys/{keyId}",
    "DELETE",
    permissions=[Permission.ADMIN],
    summary="Revoke an API key",
    tag=TAG,
    response=KeyView,
)
def revoke_key(call: Call) -> KeyView:
    return _view(tenant_service().revoke_key(call.tenant_id, call.path["keyId"], call.actor))
