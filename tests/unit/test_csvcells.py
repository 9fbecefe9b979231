"""CSV cells: formula triggers neutralised, numbers exact, nulls empty."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.core.imports import csvcells


@pytest.mark.parametrize("trigger", ["=", "+", "-", "@", "\t", "\r"])
def test_text_starting_with_a_formula_trigger_gets_a_leading_quote(trigger: str) -> None:
    text = f'{trigger}HYPERLINK("http://evil","x")'

    assert csvcells.neutralise(text) == "'" + text
    assert csvcells.cell(text) == "'" + text


@pytest.mark.parametrize(
    "text",
    ["Round bar 50mm", "S355J2", "H23-04417", "a=b", "x+1", "mail@example.com", " leading space", "'quoted", "[]", ""],
)
def test_ordinary_text_is_untouched(text: str) -> None:
    assert csvcells.neutralise(text) == text
    assert csvcells.cell(text) == text


def test_only_the_first_character_matters_and_the_quote_is_added_once() -> None:
    assert csvcells.neutralise("==1+1") == "'==1+1"
    assert csvcells.neutralise("'=1+1") == "'=1+1"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("12.50"), "12.50"),
        (Decimal("12.345"), "12.345"),
        (Decimal("0.1"), "0.1"),
        (Decimal("1E+3"), "1000"),
        (Decimal("6000"), "6000"),
        (Decimal("-3"), "-3"),
        (Decimal("-0.25"), "-0.25"),
        (7, "7"),
        (-7, "-7"),
    ],
)
def test_numbers_are_written_exactly_and_negative_numbers_are_not_neutralised(value: Decimal, expected: str) -> None:
    assert csvcells.cell(value) == expected


def test_a_number_that_arrives_as_text_is_treated_as_text() -> None:
    assert csvcells.cell("-3") == "'-3"


def test_non_finite_decimals_are_text() -> None:
    assert csvcells.cell(Decimal("-Infinity")) == "'-Infinity"
    assert csvcells.cell(Decimal("NaN")) == "NaN"


def test_a_float_keeps_its_shortest_exact_text() -> None:
    assert csvcells.cell(0.1) == "0.1"
    assert csvcells.cell(-2.5) == "-2.5"


def test_null_is_an_empty_cell_and_booleans_are_words() -> None:
    assert csvcells.cell(None) == ""
    assert (csvcells.cell(True), csvcells.cell(False)) == ("true", "false")


def test_timestamps_are_utc_iso_with_z() -> None:
    plus_two = timezone(timedelta(hours=2))

    assert csvcells.cell(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    assert csvcells.cell(datetime(2026, 1, 2, 5, 4, 5, 123000, tzinfo=plus_two)) == "2026-01-02T03:04:05.123000Z"
    assert csvcells.cell(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"


def test_row_formats_each_value() -> None:
    assert csvcells.row(["=1+1", Decimal("4.0"), None, "Bar"]) == ["'=1+1", "4.0", "", "Bar"]


def test_render_writes_header_and_rows_that_a_csv_reader_reads_back() -> None:
    rows: list[list[Any]] = [
        ["=cmd|' /C calc'!A0", Decimal("12.50"), None],
        ['say "hi", then\nleave', Decimal("-3"), "x"],
    ]

    text = csvcells.render(["name", "quantity", "note"], rows)

    assert text.startswith("name,quantity,note\r\n")
    parsed = list(csv.DictReader(io.StringIO(text, newline="")))
    assert parsed == [
        {"name": "'=cmd|' /C calc'!A0", "quantity": "12.50", "note": ""},
        {"name": 'say "hi", then\nleave', "quantity": "-3", "note": "x"},
    ]


def test_render_of_no_rows_is_the_header_only() -> None:
    assert csvcells.render(["a", "b"], []) == "a,b\r\n"


@pytest.mark.parametrize("trigger", ["=", "+", "-", "@", "\t", "\r"])
def test_unneutralised_reads_back_what_neutralise_wrote(trigger: str) -> None:
    text = f"{trigger}SUM(A1:A2)"

    assert csvcells.unneutralised(csvcells.neutralise(text)) == text


@pytest.mark.parametrize("text", ["'", "'quoted", "''=x", "plain", ""])
def test_unneutralised_leaves_other_quotes_alone(text: str) -> None:
    assert csvcells.unneutralised(text) == text


def test_parse_decimal_applies_the_core_number_bounds() -> None:
    assert csvcells.parse_decimal("12.500000") == Decimal("12.500000")
    for text, message in (("1e200", "before the point"), ("0.1234567", "after the point"), ("NaN", "not a number")):
        with pytest.raises(ValueError, match=message):
            csvcells.parse_decimal(text)
