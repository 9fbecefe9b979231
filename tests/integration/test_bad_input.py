"""Bad input found by probing the service, each once a 500: now a 400 naming the field.

(JSON nested 1,000 levels deep is in test_http_platform.py.) Each minimised
failure of the fuzz run (tests/e2e/test_fuzz.py) that was a bug lands here
as a regression test too.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.core.tenancy.permissions import ALL_PERMISSIONS
from tests.integration.company import Company, Refs, error_fields, make_company

pytestmark = pytest.mark.shared_aws
EVERYTHING = tuple(sorted(ALL_PERMISSIONS))


def bad(response: Any, *fields: str) -> None:
    assert response.status_code == 400, response.body
    body = json.loads(response.body)
    assert set(body) == {"error", "code", "details"}
    assert error_fields(response) == list(fields), body


def tag(company: Company, name: str = "Long") -> str:
    created: str = company.ok("POST", "/tags", [{"name": name}], 201)[0]["id"]
    return created


@pytest.mark.parametrize(
    ("condition", "field"),
    [
        ({"field": {"a": 1}, "op": "gt", "value": 1}, "[0].condition.field"),
        ({"field": ["length"], "op": "gt", "value": 1}, "[0].condition.field"),
        ({"field": "length", "op": {"gt": 1}, "value": 1}, "[0].condition.op"),
        ({"field": "length", "op": ["gt"], "value": 1}, "[0].condition.op"),
        ({"all": [{"field": "length", "op": "gt", "value": 1e400}]}, "[0].condition.all[0].value"),
    ],
)
def test_given_tag_rule_condition_with_bad_part_when_created_then_400_naming_it(
    acme: Company, condition: dict[str, Any], field: str
) -> None:
    # Given a tag, When a rule's condition has an object or list where text belongs, or 1e400
    raw = json.dumps([{"tagId": tag(acme), "condition": condition}]).replace("Infinity", "1e400")
    response = acme.http.http.request(
        "POST",
        f"/companies/{acme.id}/tag-rules",
        headers={"X-API-Key": acme.key, "Content-Type": "application/json"},
        body=raw.encode(),
    )

    # Then
    bad(response, field)
    assert acme.ok("GET", "/tag-rules") == []


@pytest.mark.parametrize("version", ["1e308", "1" * 40])
def test_given_inventory_version_out_of_range_when_updated_then_400_naming_version(
    acme: Company, refs: Refs, version: str
) -> None:
    # Given an item
    item = acme.ok("POST", "/inventory", [refs.item()], 201)[0]

    # When the update's version is 1e308 or 40 digits
    raw = f'[{{"inventoryId": "{item["inventoryId"]}", "version": {version}, "quantity": "5"}}]'
    response = acme.http.http.request(
        "PUT",
        f"/companies/{acme.id}/inventory",
        headers={"X-API-Key": acme.key, "Content-Type": "application/json"},
        body=raw.encode(),
    )

    # Then 400 naming the field, and nothing changed
    bad(response, "[0].version")
    assert acme.ok("GET", f"/inventory/{item['inventoryId']}")["quantity"] == item["quantity"]


def test_given_fifty_tags_of_nine_thousand_characters_when_created_then_400_naming_tags(
    acme: Company, refs: Refs
) -> None:
    # When an item would be over DynamoDB's 400 KB
    response = acme.call("POST", "/inventory", [refs.item(tags=["t" * 9000] * 50)])

    # Then
    assert response.status_code == 400, response.body
    assert all(field.startswith("[0].tags") for field in error_fields(response))
    assert acme.ok("GET", "/inventory") == []


def test_given_inventory_tags_that_are_not_tags_of_the_company_when_created_then_404(
    acme: Company, other: Company, refs: Refs
) -> None:
    # Given a tag of this company and one of another company
    mine, theirs = tag(acme), tag(other)

    # When an item names the other company's tag, or an unknown one
    response = acme.call("POST", "/inventory", [refs.item(tags=[mine, theirs])])
    unknown = acme.call("POST", "/inventory", [refs.item(tags=["no-such-tag"])])

    # Then 404 naming the entry (an id that names nothing of the company), and nothing stored; the company's
    # own tag is taken
    for answer, field in ((response, "[0].tags[1]"), (unknown, "[0].tags[0]")):
        assert answer.status_code == 404, answer.body
        assert field in error_fields(answer)
    assert acme.ok("GET", "/inventory") == []
    created = acme.ok("POST", "/inventory", [refs.item(tags=[mine])], 201)[0]
    assert created["tags"] == [mine]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/stock-locations", {"ids": [""]}, "ids[0]"),
        ("/inventory-types", {"ids": [""]}, "ids[0]"),
        ("/inventory", {"ids": [""]}, "ids[0]"),
        ("/orders", {"ids": [""]}, "ids[0]"),
        ("/stock-locations", {"ids": ["a", "a"]}, "ids"),
        ("/stock-locations", {"ids": ["x" * 101]}, "ids[0]"),
        ("/stock-locations", {"ids": ["a\u0000"]}, "ids[0]"),
    ],
)
def test_given_an_id_that_cannot_be_an_id_when_deleting_then_400_naming_it(
    http: Client, path: str, body: dict[str, Any], field: str
) -> None:
    # Given a company that may do everything
    company = make_company(http, "Ids", EVERYTHING)

    # When / Then (an empty id once reached DynamoDB as an empty key: a 500)
    bad(company.call("DELETE", path, body), field)


def test_given_path_id_that_cannot_be_an_id_when_requested_then_404_naming_the_parameter(acme: Company) -> None:
    # 2,000 characters once reached DynamoDB as a key over its 1,024-byte sort key limit.
    response = acme.call("GET", f"/inventory/{'x' * 2000}")
    assert response.status_code == 404, response.body
    assert error_fields(response) == ["inventoryId"]


def test_given_order_date_that_is_not_an_iso_date_when_created_then_400(http: Client) -> None:
    shop = make_company(http, "Dates", EVERYTHING)
    for value in (0, "2026-02-30", "2026-2-3", "2026-02-03T00:00:00Z"):
        bad(shop.call("POST", "/orders", [{"orderReference": "PO-1", "orderDate": value}]), "[0].orderDate")
    assert shop.ok("GET", "/orders") == []
    created = shop.ok("POST", "/orders", [{"orderReference": "PO-1", "orderDate": "2026-02-28"}], 201)[0]
    assert created["orderDate"] == "2026-02-28"


def test_given_certificate_issued_date_not_on_the_calendar_when_created_then_400(acme: Company) -> None:
    bad(acme.call("POST", "/mill-certifications", [{"heatCode": "H-9", "issuedDate": "2026-02-30"}]), "[0].issuedDate")
    created = acme.ok("POST", "/mill-certifications", [{"heatCode": "H-9", "issuedDate": "2026-02-28"}], 201)[0]
    assert created["issuedDate"] == "2026-02-28"
