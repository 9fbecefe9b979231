"""One error shape, validation errors that name each field, and one domain-to-status map."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from chalicelib.core import errors as domain
from chalicelib.http.errors import HttpError, bad_request, from_domain, from_validation, too_large, unauthenticated

pytestmark = pytest.mark.disable_socket


class Item(BaseModel):
    sku: str = Field(min_length=1)
    quantity: Decimal = Field(gt=0)


class Address(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    postal_code: str = Field(alias="postalCode", pattern=r"^\d{5}$")


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    customer_name: str = Field(alias="customerName", min_length=1)
    items: list[Item] = Field(min_length=1)
    ship_to: Address = Field(alias="shipTo")


def validation_error(model: Any, data: Any) -> ValidationError:
    with pytest.raises(ValidationError) as raised:
        TypeAdapter(model).validate_python(data)
    return raised.value


def fields(error: HttpError) -> list[str]:
    return [d["field"] for d in error.details]


def valid_order(**overrides: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "customerName": "Acme",
        "items": [{"sku": "A", "quantity": "1"}, {"sku": "B", "quantity": "2"}, {"sku": "C", "quantity": "3"}],
        "shipTo": {"postalCode": "12345"},
    }
    order.update(overrides)
    return order


def test_given_bad_field_in_third_item_when_mapped_then_field_is_items_2_quantity() -> None:
    # Given
    order = valid_order()
    order["items"][2]["quantity"] = "-1"

    # When
    error = from_validation(validation_error(OrderIn, order))

    # Then
    assert error.status == 400
    assert error.code == "VALIDATION_ERROR"
    assert fields(error) == ["items[2].quantity"]
    assert "items[2].quantity" in error.message
    assert "greater than 0" in error.details[0]["message"]


def test_given_several_bad_fields_when_mapped_then_every_one_is_named_by_its_alias() -> None:
    # Given
    order = valid_order(customerName="", shipTo={"postalCode": "x"}, tenantId="someone-else")
    order["items"][0]["sku"] = ""
    order["items"][1]["quantity"] = "lots"

    # When
    error = from_validation(validation_error(OrderIn, order))

    # Then
    assert sorted(fields(error)) == sorted(
        ["customerName", "items[0].sku", "items[1].quantity", "shipTo.postalCode", "tenantId"]
    )
    assert error.message == "invalid request: " + ", ".join(sorted(fields(error)))
    assert all(d["message"] for d in error.details)


def test_given_missing_required_field_when_mapped_then_it_is_named() -> None:
    error = from_validation(validation_error(OrderIn, {"customerName": "Acme", "items": [{"sku": "A"}]}))

    assert sorted(fields(error)) == ["items[0].quantity", "shipTo"]
    assert {d["message"] for d in error.details} == {"Field required"}


def test_given_prefix_when_mapped_then_fields_are_under_it() -> None:
    order = valid_order()
    order["items"][2]["quantity"] = "0"

    error = from_validation(validation_error(OrderIn, order), prefix="body")

    assert fields(error) == ["body.items[2].quantity"]


def test_given_top_level_list_when_mapped_then_index_leads_the_field() -> None:
    error = from_validation(validation_error(list[Item], [{"sku": "A", "quantity": "1"}, {"sku": "B", "quantity": 0}]))

    assert fields(error) == ["[1].quantity"]


def test_given_wrong_root_type_when_mapped_then_body_is_named() -> None:
    error = from_validation(validation_error(OrderIn, ["not", "an", "object"]))

    assert fields(error) == ["body"]


def test_given_http_error_when_rendered_then_body_has_error_code_and_details() -> None:
    assert HttpError(409, "CONFLICT", "stale").body() == {"error": "stale", "code": "CONFLICT", "details": []}
    assert bad_request("limit is bad", field="limit").body() == {
        "error": "limit is bad",
        "code": "BAD_REQUEST",
        "details": [{"field": "limit", "message": "limit is bad"}],
    }
    assert unauthenticated("API key missing").status == 401
    assert too_large("too big").status == 413
    assert too_large("too big").code == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (domain.ValidationFailed("bad"), 400),
        (domain.Unauthenticated("who"), 401),
        (domain.Forbidden("no"), 403),
        (domain.NotFound("gone"), 404),
        (domain.Conflict("clash"), 409),
        (domain.AlreadyExists("dup"), 409),
        (domain.StaleVersion("old"), 409),
        (domain.ExpectationFailed("moved"), 409),
        (domain.InsufficientStock("short"), 409),
        (domain.InvalidState("state"), 409),
        (domain.DuplicateCommand("again"), 409),
        # An id in a body that names nothing of the company: a 404, though it is a validation failure too.
        (domain.UnknownReference("unknown reference"), 404),
        (domain.Unavailable("busy"), 503),
        # An unclassified domain error is still the client's: never a 500.
        (domain.DomainError("odd"), 400),
    ],
)
def test_given_domain_error_when_mapped_then_status_and_code_follow_its_kind(
    error: domain.DomainError, status: int
) -> None:
    # Given details on the domain error
    error.details = [{"field": "quantity", "message": "x"}]

    # When
    mapped = from_domain(error)

    # Then
    assert mapped.status == status
    assert mapped.code == error.code
    assert mapped.body() == {"error": error.message, "code": error.code, "details": error.details}


def test_redact_blanks_a_key_passed_in_any_query_string() -> None:
    from chalicelib.http.auth import redact

    line = '"GET /whoami?a=1&X-Inventora-API-Key=sr_abc_1_secret&b=2 HTTP/1.1" 200 -'
    assert redact(line) == '"GET /whoami?a=1&X-Inventora-API-Key=REDACTED&b=2 HTTP/1.1" 200 -'
    assert redact("/x?x-inventora-api-key=sr_abc_1_secret") == "/x?x-inventora-api-key=REDACTED"
    assert redact("no key here") == "no key here"


def test_given_storage_unavailable_when_mapped_then_it_says_when_to_retry() -> None:
    assert from_domain(domain.Unavailable("busy")).headers == {"Retry-After": "1"}
    assert from_domain(domain.NotFound("gone")).headers == {}
