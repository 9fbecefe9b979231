"""The one home of number and text bounds: the same verdict for a JSON body and a CSV cell."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import BaseModel, Field, ValidationError

from chalicelib.core import values

pytestmark = pytest.mark.disable_socket


class Body(BaseModel):
    quantity: values.Number | None = Field(None, ge=0)
    name: values.Text | None = Field(None, max_length=10)


@pytest.mark.parametrize(
    "text",
    ["0", "1", "-5", "12.5", "1.500000", "1.5000000000", "99999999999999.999999", "1E+13", "0E-30", "0.000001"],
)
def test_numbers_within_bounds_pass(text: str) -> None:
    assert values.number_problem(Decimal(text)) is None
    assert values.parse_number(text) == Decimal(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1e200", "at most 14 digits before the point"),
        ("100000000000000", "at most 14 digits before the point"),
        ("1E+14", "at most 14 digits before the point"),
        ("0.0000001", "at most 6 digits after the point"),
        ("1.1234567", "at most 6 digits after the point"),
        ("1e-200", "at most 6 digits after the point"),
    ],
)
def test_numbers_beyond_bounds_are_refused_with_a_message(text: str, message: str) -> None:
    assert values.number_problem(Decimal(text)) == message
    with pytest.raises(ValueError, match=message):
        values.parse_number(text)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-inf", "abc", "", "1,5"])
def test_text_that_is_no_finite_number_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a number"):
        values.parse_number(text)


@pytest.mark.parametrize("text", ["1e200", "0.1234567", "123456789012345"])
def test_a_json_body_gets_the_same_verdict_as_a_csv_cell(text: str) -> None:
    with pytest.raises(ValueError) as from_csv:
        values.parse_number(text)
    with pytest.raises(ValidationError) as from_json:
        Body.model_validate({"quantity": Decimal(text)})

    assert str(from_csv.value) in str(from_json.value)


def test_a_json_body_within_bounds_keeps_its_exact_value() -> None:
    assert Body.model_validate({"quantity": Decimal("1.500000")}).quantity == Decimal("1.500000")


@pytest.mark.parametrize("text", ["a\x00b", "\x1b[31m", "bell\x07", "del\x7f", "c1\x85"])
def test_control_characters_are_refused(text: str) -> None:
    assert "control characters" in (values.text_problem(text) or "")
    with pytest.raises(ValidationError, match="control characters"):
        Body.model_validate({"name": text})


@pytest.mark.parametrize("text", ["Round bar", "tab\there", "two\nlines", "crlf\r\n", "Ünïcødé ø", ""])
def test_ordinary_text_and_whitespace_pass(text: str) -> None:
    assert values.text_problem(text) is None


def test_text_length_is_part_of_the_verdict() -> None:
    assert values.text_problem("x" * 11, 10) == "at most 10 characters"
    assert values.text_problem("x" * 10, 10) is None
