"""Units of measure (002 unitType): the documented list, dimensions, exact conversions. No AWS."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core.catalog import units
from chalicelib.core.catalog.resources import check_unit
from chalicelib.core.errors import ValidationFailed

pytestmark = pytest.mark.disable_socket
D = Decimal

# The unitType list of the 002 document, verbatim.
DOCUMENTED = [
    "pieces",
    "bundles",
    "cases",
    "weight.lbs",
    "weight.oz",
    "weight.kg",
    "weight.grams",
    "weight.mg",
    "weight.ct",
    "weight.gr",
    "length.ft",
    "length.yd",
    "length.in",
    "length.m",
    "length.cm",
    "length.mm",
    "area.sqft",
    "area.sqin",
    "area.sqm",
    "area.sqcm",
    "volume.oz",
    "volume.pt",
    "volume.qt",
    "volume.ga",
    "volume.ml",
    "volume.liters",
    "volume.bdft",
    "volume.cuin",
    "volume.cuft",
    "volume.cuyd",
    "volume.cm3",
    "volume.m3",
    "volume.tsp",
    "volume.tbsp",
    "volume.cup",
    "time.seconds",
    "time.minutes",
    "time.hours",
    "time.days",
]


def test_the_table_holds_exactly_the_documented_units() -> None:
    assert sorted(units.UNIT_TYPES) == sorted(DOCUMENTED)
    assert "bundles" not in units.SETTABLE_UNIT_TYPES
    assert len(units.SETTABLE_UNIT_TYPES) == len(DOCUMENTED) - 1


@pytest.mark.parametrize(
    ("quantity", "source", "target", "expected"),
    [
        ("1500", "weight.grams", "weight.kg", "1.5"),
        ("2", "weight.kg", "weight.grams", "2000"),
        ("1", "weight.lbs", "weight.kg", "0.45359237"),
        ("16", "weight.oz", "weight.lbs", "1"),
        ("7000", "weight.gr", "weight.lbs", "1"),
        ("5", "weight.ct", "weight.grams", "1"),
        ("250", "weight.mg", "weight.grams", "0.25"),
        ("3", "length.ft", "length.yd", "1"),
        ("12", "length.in", "length.ft", "1"),
        ("1", "length.in", "length.mm", "25.4"),
        ("1", "area.sqft", "area.sqin", "144"),
        ("1", "area.sqm", "area.sqcm", "10000"),
        ("1", "volume.ga", "volume.liters", "3.785411784"),
        ("4", "volume.qt", "volume.ga", "1"),
        ("2", "volume.pt", "volume.qt", "1"),
        ("3", "volume.tsp", "volume.tbsp", "1"),
        ("16", "volume.tbsp", "volume.cup", "1"),
        ("1728", "volume.cuin", "volume.cuft", "1"),
        ("27", "volume.cuft", "volume.cuyd", "1"),
        ("12", "volume.bdft", "volume.cuft", "1"),
        ("1", "volume.m3", "volume.liters", "1000"),
        ("1", "volume.cm3", "volume.ml", "1"),
        ("90", "time.minutes", "time.hours", "1.5"),
        ("2", "time.days", "time.seconds", "172800"),
    ],
)
def test_conversions_within_a_dimension_are_exact(quantity: str, source: str, target: str, expected: str) -> None:
    assert units.convert(D(quantity), source, target) == D(expected)


def test_a_result_without_a_finite_decimal_is_rounded_half_even_to_twelve_places() -> None:
    # 1 ml = 0.20288413621105... tsp
    converted = units.convert(D(1), "volume.ml", "volume.tsp")
    assert converted == D("0.202884136211")
    assert abs(Fraction(converted) - Fraction(1) / Fraction(units.UNITS["volume.tsp"][1])) < Fraction(1, 10**12)


def test_the_same_unit_is_returned_untouched() -> None:
    assert units.convert(D("1.230"), "weight.kg", "weight.kg") == D("1.230")


@pytest.mark.parametrize(
    ("source", "target"), [("weight.kg", "volume.liters"), ("pieces", "cases"), ("bundles", "pieces")]
)
def test_another_dimension_is_a_400_naming_the_field(source: str, target: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        units.convert(D(1), source, target, field="Items[0].unitType")
    assert caught.value.details[0]["field"] == "Items[0].unitType"
    assert source in caught.value.message


def test_an_unknown_unit_is_a_400() -> None:
    with pytest.raises(ValidationFailed):
        units.convert(D(1), "weight.stone", "weight.kg")


def test_bundles_can_never_be_set_and_unknown_units_are_refused() -> None:
    with pytest.raises(ValidationFailed) as bundles:
        check_unit("bundles")
    assert "read-only" in bundles.value.details[0]["message"]
    with pytest.raises(ValidationFailed):
        check_unit("weight.tonnes")
    check_unit("weight.kg")  # fine


amounts = st.decimals(min_value=D("0.000001"), max_value=D("1000000"), places=6)
weights = st.sampled_from([u for u, (dim, _) in units.UNITS.items() if dim == units.Dimension.WEIGHT])


@given(amounts, weights, weights)
def test_converting_there_and_back_loses_at_most_the_rounding(quantity: Decimal, a: str, b: str) -> None:
    there = units.convert(quantity, a, b)
    back = units.convert(there, b, a)
    # Exact whenever both steps have finite decimals; otherwise within the 12-place rounding, scaled back.
    scale = Fraction(units.UNITS[b][1]) / Fraction(units.UNITS[a][1])
    assert abs(Fraction(back) - Fraction(quantity)) <= Fraction(1, 10**12) * (1 + scale) + Fraction(1, 10**12)
