"""Units of measure: the documented unit types, their dimensions, and exact conversions.

One table holds every unit: its dimension and its size in that dimension's
base unit (grams, metres, square metres, millilitres, seconds), as an exact
decimal. The US customary and imperial definitions are exact by law
(1 lb = 0.45359237 kg, 1 in = 25.4 mm, 1 US fl oz = 29.5735295625 ml), so
every factor below is finite.

Converting between two units of one dimension multiplies by one factor and
divides by the other, in exact rational arithmetic. The result is exact
whenever it has a finite decimal form (grams <-> kilograms, pounds <->
kilograms, inches <-> millimetres ...). Only a result that has none (1 ml in
teaspoons is 0.2028841361...) is rounded, half to even, to
CONVERSION_PLACES decimal places. Counting units (pieces, cases, bundles)
are dimensions of their own: a case holds an unknown number of pieces.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from chalicelib.core.errors import ValidationFailed

CONVERSION_PLACES = 12


class Dimension(StrEnum):
    PIECES = "pieces"
    CASES = "cases"
    BUNDLES = "bundles"
    WEIGHT = "weight"
    LENGTH = "length"
    AREA = "area"
    VOLUME = "volume"
    TIME = "time"


BUNDLES = "bundles"
PIECES = "pieces"

_FL_OZ = Decimal("29.5735295625")  # ml, US customary fluid ounce
_CU_IN = Decimal("16.387064")  # ml (2.54 cm cubed)

# unit type -> (dimension, size in the dimension's base unit)
UNITS: dict[str, tuple[Dimension, Decimal]] = {
    PIECES: (Dimension.PIECES, Decimal(1)),
    BUNDLES: (Dimension.BUNDLES, Decimal(1)),
    "cases": (Dimension.CASES, Decimal(1)),
    # weight, base gram
    "weight.lbs": (Dimension.WEIGHT, Decimal("453.59237")),
    "weight.oz": (Dimension.WEIGHT, Decimal("28.349523125")),  # 1/16 lb
    "weight.kg": (Dimension.WEIGHT, Decimal(1000)),
    "weight.grams": (Dimension.WEIGHT, Decimal(1)),
    "weight.mg": (Dimension.WEIGHT, Decimal("0.001")),
    "weight.ct": (Dimension.WEIGHT, Decimal("0.2")),  # metric carat, 200 mg
    "weight.gr": (Dimension.WEIGHT, Decimal("0.06479891")),  # grain, 1/7000 lb
    # length, base metre
    "length.ft": (Dimension.LENGTH, Decimal("0.3048")),
    "length.yd": (Dimension.LENGTH, Decimal("0.9144")),
    "length.in": (Dimension.LENGTH, Decimal("0.0254")),
    "length.m": (Dimension.LENGTH, Decimal(1)),
    "length.cm": (Dimension.LENGTH, Decimal("0.01")),
    "length.mm": (Dimension.LENGTH, Decimal("0.001")),
    # area, base square metre
    "area.sqft": (Dimension.AREA, Decimal("0.09290304")),
    "area.sqin": (Dimension.AREA, Decimal("0.00064516")),
    "area.sqm": (Dimension.AREA, Decimal(1)),
    "area.sqcm": (Dimension.AREA, Decimal("0.0001")),
    # volume, base millilitre (US customary liquid measures)
    "volume.oz": (Dimension.VOLUME, _FL_OZ),
    "volume.pt": (Dimension.VOLUME, _FL_OZ * 16),
    "volume.qt": (Dimension.VOLUME, _FL_OZ * 32),
    "volume.ga": (Dimension.VOLUME, _FL_OZ * 128),
    "volume.ml": (Dimension.VOLUME, Decimal(1)),
    "volume.liters": (Dimension.VOLUME, Decimal(1000)),
    "volume.bdft": (Dimension.VOLUME, _CU_IN * 144),  # board foot: 12 x 12 x 1 in
    "volume.cuin": (Dimension.VOLUME, _CU_IN),
    "volume.cuft": (Dimension.VOLUME, _CU_IN * 1728),
    "volume.cuyd": (Dimension.VOLUME, _CU_IN * 46656),
    "volume.cm3": (Dimension.VOLUME, Decimal(1)),
    "volume.m3": (Dimension.VOLUME, Decimal(1_000_000)),
    "volume.tsp": (Dimension.VOLUME, _FL_OZ / 6),
    "volume.tbsp": (Dimension.VOLUME, _FL_OZ / 2),
    "volume.cup": (Dimension.VOLUME, _FL_OZ * 8),
    # time, base second
    "time.seconds": (Dimension.TIME, Decimal(1)),
    "time.minutes": (Dimension.TIME, Decimal(60)),
    "time.hours": (Dimension.TIME, Decimal(3600)),
    "time.days": (Dimension.TIME, Decimal(86400)),
}

UNIT_TYPES: tuple[str, ...] = tuple(UNITS)
# `bundles` is derived by the server (a bundle's unit); no client may set it.
SETTABLE_UNIT_TYPES: tuple[str, ...] = tuple(u for u in UNITS if u != BUNDLES)


def is_unit(unit: str) -> bool:
    return unit in UNITS


def dimension(unit: str) -> Dimension:
    try:
        return UNITS[unit][0]
    except KeyError:
        raise ValueError(f"unknown unit type {unit!r}") from None


def compatible(a: str, b: str) -> bool:
    return dimension(a) == dimension(b)


def convert(quantity: Decimal, from_unit: str, to_unit: str, *, field: str = "unitType") -> Decimal:
    """`quantity` in `from_unit` expressed in `to_unit`; 400 naming `field` across dimensions."""
    if from_unit == to_unit:
        return quantity
    source, target = UNITS.get(from_unit), UNITS.get(to_unit)
    if source is None or target is None:
        unknown = from_unit if source is None else to_unit
        raise ValidationFailed(f"unknown unit type {unknown}", [{"field": field, "message": f"unknown {unknown}"}])
    if source[0] != target[0]:
        raise ValidationFailed(
            f"cannot convert {from_unit} to {to_unit}: {source[0].value} is not {target[0].value}",
            [{"field": field, "message": f"{from_unit} cannot be converted to {to_unit}"}],
        )
    return to_decimal(Fraction(quantity) * Fraction(source[1]) / Fraction(target[1]))


def to_decimal(value: Fraction) -> Decimal:
    """The exact decimal of `value` when it has one, else rounded half to even to CONVERSION_PLACES places.

    Built from integers, so no decimal context (28 digits) ever rounds it.
    """
    denominator = value.denominator
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator == 1:
        places = max(twos, fives)
        scaled = value * 10**places
    else:
        places = CONVERSION_PLACES
        scaled = Fraction(round(value * 10**places))  # round() of a Fraction is half to even
    digits = scaled.numerator
    assert scaled.denominator == 1
    while places > 0 and digits % 10 == 0:
        digits //= 10
        places -= 1
    return Decimal(f"{digits}E-{places}")
