"""Helpers for the GraphQL tests: one request through the app, and its data or errors."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from tests.integration.company import Company

JSON = "application/json"


class Answer:
    def __init__(self, response: Any) -> None:
        self.status: int = response.status_code
        self.headers = response.headers
        self.body: dict[str, Any] = json.loads(response.body)

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = self.body.get("errors") or []
        return errors

    @property
    def codes(self) -> list[str]:
        return [e["extensions"]["code"] for e in self.errors]

    def ok(self) -> Any:
        assert self.status == 200 and not self.errors, self.body
        return self.data


def gql(
    company: Company, query: str, variables: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> Answer:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    response = company.http.http.request(
        "POST", "/graphql", headers={"X-API-Key": company.key, "Content-Type": JSON, **(headers or {})}, body=body
    )
    return Answer(response)


def gql_get(company: Company, query: str, variables: dict[str, Any] | None = None) -> Answer:
    params = {"query": query, **({"variables": json.dumps(variables)} if variables else {})}
    response = company.http.http.request("GET", f"/graphql?{urlencode(params)}", headers={"X-API-Key": company.key})
    return Answer(response)
