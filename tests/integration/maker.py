"""Helpers for the maker surface (002) tests: a company with its key, called the documented ways."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from chalice.test import Client

from chalicelib import wiring

JSON = "application/json"
ALL = (
    "admin",
    "inventory.read",
    "inventory.write",
    "inventory.adjust",
    "products.read",
    "products.write",
    "tasks.read",
    "tasks.write",
)


class Maker:
    """A company, called through chalice's test client with the documented `X-Inventora-API-Key` header."""

    def __init__(self, http: Client, company_id: str, key: str) -> None:
        self.http = http
        self.id = company_id
        self.key = key

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        key_in_query: bool = False,
        raw: bytes | None = None,
    ) -> Any:
        sent = {"Content-Type": JSON, **(headers or {})}
        if key_in_query:
            path += ("&" if "?" in path else "?") + f"x-inventora-api-key={quote(self.key)}"
        else:
            sent.setdefault("X-Inventora-API-Key", self.key)
        payload = raw if raw is not None else (json.dumps(body, default=str).encode() if body is not None else b"")
        return self.http.http.request(method, path, headers=sent, body=payload)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **kwargs: Any) -> Any:
        response = self.call(method, path, body, **kwargs)
        assert response.status_code == status, response.body
        return loads(response.body) if response.body else None

    def error(self, method: str, path: str, body: Any = None, status: int = 400, **kwargs: Any) -> dict[str, Any]:
        response = self.call(method, path, body, **kwargs)
        assert response.status_code == status, response.body
        found: dict[str, Any] = json.loads(response.body)
        assert isinstance(found["error"], str) and found["error"]
        return found

    # -- building blocks -------------------------------------------------------------

    def location(self, name: str, **fields: Any) -> dict[str, Any]:
        found: dict[str, Any] = self.ok("POST", "/api/locations", {"name": name, **fields}, 201)
        return found

    def material(self, name: str, unit: str = "pieces", **fields: Any) -> dict[str, Any]:
        found: dict[str, Any] = self.ok("POST", "/api/materials", {"name": name, "unitType": unit, **fields}, 201)
        return found

    def product(self, name: str, materials: list[tuple[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
        body = {"name": name, **fields}
        if materials is not None:
            body["materials"] = [{"id": i, "quantityUsed": str(q)} for i, q in materials]
        found: dict[str, Any] = self.ok("POST", "/api/products", body, 201)
        return found

    def level(self, kind: str, resource_id: str, update: str, quantity: Any, location: str, **extra: Any) -> Any:
        body = {"quantity": str(quantity), "locationName": location, "updateType": update, **extra}
        return self.ok("POST", f"/api/{kind}/{resource_id}/stock-level-updates", body)

    def get(self, kind: str, resource_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.ok("GET", f"/api/{kind}/{resource_id}")
        return found

    def default_location(self) -> dict[str, Any]:
        return next(loc for loc in self.ok("GET", "/api/locations")["data"] if loc["isDefault"])


def loads(body: bytes | str) -> Any:
    """JSON with exact numbers."""
    return json.loads(body, parse_float=Decimal)


def make_maker(http: Client, name: str = "Candle Co", permissions: tuple[str, ...] = ALL) -> Maker:
    tenant, key = wiring.tenant_service().create_tenant(name, list(permissions))
    return Maker(http, tenant.tenant_id, key)


def fields_of(error: dict[str, Any]) -> list[str]:
    return [d["field"] for d in error["details"]]
