"""storage.codec turns values into DynamoDB attributes exactly as boto3's TypeSerializer does
(after `plain`, which turns sets, tuples, datetimes, enums and models into plain values), and
attributes back into values exactly as its TypeDeserializer does."""

from __future__ import annotations

from decimal import Decimal, Inexact, Rounded
from typing import Any

import pytest
from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer

from chalicelib.storage.codec import from_attrs, plain, to_attrs, to_value

pytestmark = pytest.mark.disable_socket

VALUES: list[Any] = [
    "",
    "text",
    True,
    False,
    0,
    -7,
    10**30,
    Decimal("1.50"),
    Decimal("-0.000001"),
    Decimal("1E+5"),
    None,
    [],
    ["a", Decimal("2"), None, [True, {"x": "y"}]],
    {},
    {"a": {"b": [Decimal("3.25"), "c"]}, "n": 4},
    {"a", "b"},
    {Decimal("1"), Decimal("2")},
    b"bytes",
    Binary(b"x"),
]


def stable_id(value: Any) -> str:
    """A test id the same in every process (a set's repr follows the process's hash seed: xdist workers differ)."""
    if isinstance(value, set | frozenset):
        return "{" + ", ".join(sorted(map(repr, value))) + "}"
    return repr(value)


@pytest.mark.parametrize("value", VALUES, ids=stable_id)
def test_a_value_is_serialised_as_type_serializer_does(value: Any) -> None:
    expected = TypeSerializer().serialize(plain(value))
    assert to_value(value) == expected


def test_an_item_is_serialised_as_type_serializer_does_and_drops_none_fields() -> None:
    item = {"pk": "T#1", "n": Decimal("1.0"), "flag": True, "gone": None, "tags": ["a"], "m": {"k": None}}
    assert to_attrs(item) == {
        "pk": {"S": "T#1"},
        "n": {"N": "1.0"},
        "flag": {"BOOL": True},
        "tags": {"L": [{"S": "a"}]},
        "m": {"M": {}},
    }


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("1" * 39)])
def test_numbers_dynamodb_cannot_hold_are_refused_as_type_serializer_refuses_them(value: Decimal) -> None:
    with pytest.raises((TypeError, Inexact, Rounded, ArithmeticError)) as mine:
        to_value(value)
    with pytest.raises(type(mine.value)):
        TypeSerializer().serialize(value)


@pytest.mark.parametrize("value", VALUES, ids=stable_id)
def test_an_attribute_is_read_back_as_type_deserializer_does(value: Any) -> None:
    attr = TypeSerializer().serialize(plain(value))
    mine = from_attrs({"a": attr})["a"]
    theirs = TypeDeserializer().deserialize(attr)
    assert mine == theirs
    assert type(mine) is type(theirs)


@pytest.mark.parametrize("attr", [{}, {"S": "a", "N": "1"}, {"X": "1"}, {"N": "abc"}, {"M": {"k": {}}}], ids=repr)
def test_a_malformed_attribute_is_read_as_type_deserializer_reads_it(attr: dict[str, Any]) -> None:
    def outcome(read: Any) -> Any:
        try:
            return ("value", str(read(attr)))
        except (TypeError, ArithmeticError) as error:
            return ("error", type(error))

    assert outcome(lambda a: from_attrs({"a": a})["a"]) == outcome(TypeDeserializer().deserialize)
