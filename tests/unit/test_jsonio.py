"""Decimal-exact JSON: what the service writes and reads, with no float in between."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

import pytest
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.http import jsonio

pytestmark = pytest.mark.disable_socket


def strict_parse(text: str) -> Any:
    """Parse as a strict JSON reader would: no NaN/Infinity, decimals kept exact."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"output contains the non-JSON constant {name}")

    return json.loads(text, parse_float=Decimal, parse_constant=refuse)


class Line(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    product_id: str = Field(alias="productId")
    unit_price: Decimal = Field(alias="unitPrice")
    quantity: Decimal


class Order(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    order_id: str = Field(alias="orderId")
    lines: list[Line]
    placed_at: datetime = Field(alias="placedAt")


class Colour(StrEnum):
    RED = "red"


def test_given_decimal_sum_when_dumped_then_it_is_exactly_the_decimal_sum() -> None:
    # Given a sum that is inexact in binary floating point
    total = Decimal("0.1") + Decimal("0.2")

    # When
    text = jsonio.dumps({"total": total})

    # Then it is written as the exact decimal, never 0.30000000000000004
    assert text == '{"total":0.3}'


def test_given_trailing_zeros_when_dumped_then_they_are_kept() -> None:
    assert jsonio.dumps({"price": Decimal("12.50")}) == '{"price":12.50}'
    assert jsonio.dumps([Decimal("1.000")]) == "[1.000]"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1E+2"), "100"),
        (Decimal("1.5E+3"), "1500"),
        (Decimal("-5E+3"), "-5000"),
        # Beyond the default 28-digit context: DynamoDB numbers have 38 digits.
        (Decimal("1E+30"), "1" + "0" * 30),
        (Decimal("1.23E+37"), "123" + "0" * 35),
        (Decimal("0E+2"), "0"),
    ],
)
def test_given_positive_exponent_when_dumped_then_written_as_whole_number(value: Decimal, expected: str) -> None:
    # When
    text = jsonio.dumps(value)

    # Then it is written in full and parses back to the same number
    assert text == expected
    assert strict_parse(text) == value


@pytest.mark.parametrize("value", ["1E-7", "1E-30", "0.000001", "-0.00000000000000000000000000000000001", "1.25E-10"])
def test_given_small_exponent_when_dumped_then_valid_json_with_the_exact_value(value: str) -> None:
    # Given
    number = Decimal(value)

    # When
    text = jsonio.dumps({"q": number})

    # Then it is a valid JSON number that parses back to exactly the same decimal
    parsed = strict_parse(text)["q"]
    assert isinstance(parsed, Decimal)
    assert parsed == number
    # and a standard JSON reader accepts it as a number too
    assert isinstance(json.loads(text)["q"], float)


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("sNaN")])
def test_given_non_finite_decimal_when_dumped_then_refused(value: Decimal) -> None:
    with pytest.raises(ValueError, match="NaN and Infinity"):
        jsonio.dumps({"q": value})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_given_non_finite_float_when_dumped_then_refused_instead_of_writing_invalid_json(value: float) -> None:
    with pytest.raises(ValueError):
        jsonio.dumps({"q": value})


def test_given_ints_and_bools_when_dumped_then_written_as_json_ints_and_bools() -> None:
    big = 10**40
    text = jsonio.dumps({"n": 7, "neg": -3, "big": big, "yes": True, "no": False, "none": None})

    assert text == f'{{"n":7,"neg":-3,"big":{big},"yes":true,"no":false,"none":null}}'


def test_given_nested_models_with_aliases_when_dumped_then_aliases_and_exact_numbers_are_used() -> None:
    # Given
    order = Order(
        order_id="o-1",
        lines=[
            Line(product_id="p-1", unit_price=Decimal("12.50"), quantity=Decimal("3")),
            Line(product_id="p-2", unit_price=Decimal("0.10"), quantity=Decimal("2.125")),
        ],
        placed_at=datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
    )

    # When
    text = jsonio.dumps({"data": [order]})

    # Then
    assert text == (
        '{"data":[{"orderId":"o-1","lines":['
        '{"productId":"p-1","unitPrice":12.50,"quantity":3},'
        '{"productId":"p-2","unitPrice":0.10,"quantity":2.125}],'
        '"placedAt":"2026-11-23T12:00:00Z"}]}'
    )
    assert "product_id" not in text


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 11, 23, 12, 0, 5, tzinfo=UTC), "2026-11-23T12:00:05Z"),
        (datetime(2026, 11, 23, 12, 0, 5, 123456, tzinfo=UTC), "2026-11-23T12:00:05.123456Z"),
        # Naive times are UTC by convention in this service.
        (datetime(2026, 11, 23, 12, 0, 5), "2026-11-23T12:00:05Z"),
        (datetime(2026, 11, 23, 14, 0, 5, tzinfo=timezone(timedelta(hours=2))), "2026-11-23T12:00:05Z"),
        (datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=-5))), "2026-01-01T05:30:00Z"),
    ],
)
def test_given_datetime_when_dumped_then_iso_utc_with_z(moment: datetime, expected: str) -> None:
    assert jsonio.dumps(moment) == f'"{expected}"'


def test_given_dates_uuids_enums_and_text_when_dumped_then_written_as_json_strings() -> None:
    text = jsonio.dumps(
        {
            "day": date(2026, 2, 28),
            "id": UUID("12345678-1234-5678-1234-567812345678"),
            "colour": Colour.RED,
            "quote": 'say "hi"\n\u00e9',
            "tuple": (1, "a"),
            3: "int key",
        }
    )

    assert strict_parse(text) == {
        "day": "2026-02-28",
        "id": "12345678-1234-5678-1234-567812345678",
        "colour": "red",
        "quote": 'say "hi"\n\u00e9',
        "tuple": [1, "a"],
        "3": "int key",
    }


def test_given_unknown_type_when_dumped_then_type_error_rather_than_silent_str() -> None:
    with pytest.raises(TypeError, match="object"):
        jsonio.dumps({"x": object()})


def test_given_json_with_fractions_when_loaded_then_fractions_are_exact_decimals() -> None:
    # When
    data = jsonio.loads(b'{"price": 12.50, "qty": 0.1, "tiny": 1e-30, "huge": 1E+400, "n": 7, "items": [2.5]}')

    # Then
    assert data["price"] == Decimal("12.50")
    assert str(data["price"]) == "12.50"
    assert data["qty"] == Decimal("0.1")
    assert data["qty"] + Decimal("0.2") == Decimal("0.3")
    assert data["tiny"] == Decimal("1E-30")
    assert data["huge"] == Decimal("1E+400")
    assert data["items"] == [Decimal("2.5")]
    assert all(isinstance(data[k], Decimal) for k in ("price", "qty", "tiny", "huge"))
    # Integers stay integers
    assert data["n"] == 7
    assert isinstance(data["n"], int)


@pytest.mark.parametrize("raw", ['{"q": NaN}', '{"q": Infinity}', '{"q": -Infinity}', "[NaN]"])
def test_given_nan_or_infinity_when_loaded_then_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="not a valid JSON number"):
        jsonio.loads(raw)


def test_given_malformed_json_when_loaded_then_value_error() -> None:
    with pytest.raises(ValueError):
        jsonio.loads(b'{"q": 1,')


def test_given_decimals_when_round_tripped_then_every_digit_survives() -> None:
    # Given
    values = [Decimal("12.50"), Decimal("0.3"), Decimal("-7.000"), Decimal("123456789012345678901234567890.12345678")]

    # When
    back = jsonio.loads(jsonio.dumps(values))

    # Then the same digits come back, trailing zeros included
    assert [str(v) for v in back] == [str(v) for v in values]


@pytest.mark.parametrize("depth", [33, 1_000, 100_000])
def test_given_json_nested_too_deep_when_loading_then_value_error_not_recursion(depth: int) -> None:
    with pytest.raises(ValueError, match="nested deeper than 32 levels"):
        jsonio.loads("[" * depth + "]" * depth)
    with pytest.raises(ValueError, match="nested deeper than 32 levels"):
        jsonio.loads('{"a":' * depth + "1" + "}" * depth)


def test_given_json_nested_to_the_limit_when_loading_then_parsed() -> None:
    assert jsonio.loads("[" * 32 + "]" * 32) == [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
