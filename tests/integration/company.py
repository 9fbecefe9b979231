"""Helpers for the company surface tests: a company with its key, and one of
each reference kind to point inventory items at."""

from __future__ import annotations

import json
from typing import Any

from chalice.test import Client

from chalicelib import wiring

JSON = "application/json"


class Company:
    def __init__(self, http: Client, company_id: str, key: str) -> None:
        self.http = http
        self.id = company_id
        self.key = key

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        raw = json.dumps(body) if body is not None else ""
        return self.http.http.request(
            method,
            f"/companies/{self.id}{path}",
            headers={"X-API-Key": self.key, "Content-Type": JSON, **(headers or {})},
            body=raw.encode(),
        )

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = self.call(method, path, body)
        assert response.status_code == status, response.body
        return json.loads(response.body)


def make_company(
    http: Client, name: str = "Acme", permissions: tuple[str, ...] = ("admin", "inventory.read", "inventory.write")
) -> Company:
    tenant, key = wiring.tenant_service().create_tenant(name, list(permissions))
    return Company(http, tenant.tenant_id, key)


def error_fields(response: Any) -> list[str]:
    return [d["field"] for d in json.loads(response.body)["details"]]


class Refs:
    """One of each reference kind in a company."""

    def __init__(self, company: Company) -> None:
        self.type = company.ok("POST", "/inventory-types", [{"label": "Round bar"}], 201)[0]["id"]
        self.material = company.ok("POST", "/inventory-materials", [{"label": "S355"}], 201)[0]["id"]
        self.supplier = company.ok("POST", "/organisations", [{"name": "Steel Co"}], 201)[0]["id"]
        self.location = company.ok("POST", "/stock-locations", [{"label": "Yard A"}], 201)[0]["id"]
        self.cert = company.ok("POST", "/mill-certifications", [{"heatCode": "H-1"}], 201)[0]["id"]

    def item(self, **overrides: Any) -> dict[str, Any]:
        return {
            "productName": "Bar 50mm",
            "quantity": "4",
            "weight": "12.345",
            "heatCode": "H-1",
            "diameter": "50",
            "length": "6000",
            "type": self.type,
            "material": self.material,
            "supplierId": self.supplier,
            "stockLocationId": self.location,
            "unitPrice": "19.99",
            **overrides,
        }
