"""A newcomer's first hour, over HTTP against the local stack: one contract, stated once and kept."""

from __future__ import annotations

from typing import Any

import requests

from tests.e2e.conftest import Api, Stack


def error_fields(response: requests.Response) -> set[str]:
    return {d["field"] for d in response.json()["details"]}


def test_a_misspelt_field_is_a_400_naming_it_with_every_other_mistake(stack: Stack, api: Api) -> None:
    response = api.post(
        f"/companies/{stack.company_id}/inventory",
        json=[{"productName": "Bar", "qty": 5}, {"productName": "", "quantity": -1}],
    )

    assert response.status_code == 400, response.text
    assert error_fields(response) == {"[0].qty", "[1].productName", "[1].quantity"}
    assert set(response.json()) == {"error", "code", "details"}


def test_documented_enumerations_and_emails_are_enforced(stack: Stack, api: Api) -> None:
    response = api.post(
        f"/companies/{stack.company_id}/organisations",
        json=[{"name": "Steel Ltd", "organisationType": "vendor", "email": "steel at example"}],
    )

    assert response.status_code == 400, response.text
    assert error_fields(response) == {"[0].organisationType", "[0].email"}


def test_reserve_inputs_sent_as_a_body_get_an_error_that_says_they_are_query_parameters(stack: Stack, api: Api) -> None:
    order = api.post(
        f"/companies/{stack.company_id}/orders",
        json=[{"orderReference": "FH-1", "lineItems": [{"productName": "Bar", "quantity": 1}]}],
    ).json()[0]
    path = f"/companies/{stack.company_id}/orders/{order['orderId']}/line-items/{order['lineItems'][0]['lineItemId']}"

    response = api.post(f"{path}/reserve", json={"inventoryId": "x", "reserveQuantity": 1, "split": "1"})

    assert response.status_code == 400, response.text
    assert response.json()["code"] == "UNEXPECTED_BODY"
    assert "query parameters" in response.json()["error"]


def test_one_page_size_for_every_list_as_the_openapi_document_says(stack: Stack, api: Api) -> None:
    document: dict[str, Any] = api.get("/openapi.json").json()
    limit = next(
        p for p in document["paths"]["/companies/{companyId}/inventory"]["get"]["parameters"] if p["name"] == "limit"
    )
    maximum = limit["schema"]["maximum"]

    for listing in ("inventory", "orders", "imports"):
        over = api.get(f"/companies/{stack.company_id}/{listing}", params={"limit": maximum + 1})
        assert over.status_code == 400, (listing, over.text)
        assert api.get(f"/companies/{stack.company_id}/{listing}", params={"limit": maximum}).status_code == 200
    # The platform's own list has the company lists' shape: a JSON array.
    assert isinstance(api.get("/api-keys").json(), list)


def test_docs_with_a_slash_is_the_docs_page_and_its_assets_load(stack: Stack) -> None:
    for address in ("/docs", "/docs/"):
        page = requests.get(stack.base_url + address, timeout=10)
        assert page.status_code == 200
        assert "swagger-ui-bundle.js" in page.text
        base = stack.base_url + ("/docs/" if address.endswith("/") else "/")
        asset = "swagger-ui.css" if address.endswith("/") else "docs/swagger-ui.css"
        assert requests.get(base + asset, timeout=10).status_code == 200


def test_an_unsupported_media_type_is_a_json_415(stack: Stack, api: Api) -> None:
    response = api.post(
        f"/companies/{stack.company_id}/inventory", data="productName=Bar", headers={"Content-Type": "text/plain"}
    )

    assert response.status_code == 415
    assert response.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
