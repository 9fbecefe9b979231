"""A continuation token works only on the list that issued it (its route and company)."""

from __future__ import annotations

from chalice.test import Client

from tests.integration.company import Company, Refs, error_fields, make_company

PERMISSIONS = ("admin", "inventory.read", "inventory.write", "orders.read", "orders.write")


def second_page_token(company: Company, path: str) -> str:
    response = company.call("GET", f"{path}?limit=1")
    assert response.status_code == 200, response.body
    token = response.headers.get("X-Next-Token")
    assert token, "the list should have a second page"
    return str(token)


def test_a_token_is_refused_by_another_list_and_accepted_by_its_own(http: Client) -> None:
    # Given a company with two inventory items and two orders
    company = make_company(http, "Lists", PERMISSIONS)
    refs = Refs(company)
    company.ok("POST", "/inventory", [refs.item(productName="A"), refs.item(productName="B")], 201)
    company.ok("POST", "/orders", [{"orderReference": "SO-1"}, {"orderReference": "SO-2"}], 201)
    inventory_token = second_page_token(company, "/inventory")

    # When the inventory list's token is given to the orders list (and to the deleted orders list)
    for path in ("/orders", "/orders/deleted"):
        refused = company.call("GET", f"{path}?limit=1&nextToken={inventory_token}")

        # Then it is a 400 naming the token, never a page of something else
        assert refused.status_code == 400, refused.body
        assert error_fields(refused) == ["nextToken"]

    # And its own list takes it
    assert company.call("GET", f"/inventory?limit=1&nextToken={inventory_token}").status_code == 200
    orders_token = second_page_token(company, "/orders")
    assert company.call("GET", f"/orders?limit=1&nextToken={orders_token}").status_code == 200
    assert company.call("GET", f"/inventory?limit=1&nextToken={orders_token}").status_code == 400
