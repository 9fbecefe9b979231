"""The tag rule interpreter: conditions are data, validated on the way in, evaluated without eval."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chalicelib.core.reference import tag_rules as tags

ITEM: dict[str, Any] = {
    "productName": "Round bar 50mm",
    "quantity": Decimal(4),
    "length": Decimal(6000),
    "weight": Decimal("12.5"),
    "materialLabel": "S355",
    "heatCode": None,
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "materialLabel", "op": "equals", "value": "s355"}, True),
        ({"field": "quantity", "op": "equals", "value": "4.0"}, True),
        ({"field": "materialLabel", "op": "in", "value": ["S275", "S355"]}, True),
        ({"field": "materialLabel", "op": "in", "value": ["S275"]}, False),
        ({"field": "length", "op": "between", "value": [6000, 12000]}, True),
        ({"field": "length", "op": "between", "value": [6001, 12000]}, False),
        ({"field": "weight", "op": "gt", "value": 12}, True),
        ({"field": "weight", "op": "gte", "value": "12.5"}, True),
        ({"field": "weight", "op": "lt", "value": "12.5"}, False),
        ({"field": "weight", "op": "lte", "value": 12.5}, True),
        ({"field": "productName", "op": "contains", "value": "BAR"}, True),
        ({"field": "heatCode", "op": "equals", "value": "H1"}, False),
        ({"field": "productName", "op": "gt", "value": 1}, False),
        (
            {"all": [{"field": "quantity", "op": "gt", "value": 1}, {"field": "length", "op": "lt", "value": 100}]},
            False,
        ),
        (
            {"any": [{"field": "quantity", "op": "gt", "value": 100}, {"field": "length", "op": "gte", "value": 100}]},
            True,
        ),
        ({"all": [{"any": [{"field": "quantity", "op": "equals", "value": 4}]}]}, True),
    ],
)
def test_evaluate(condition: dict[str, Any], expected: bool) -> None:
    assert tags.validate(condition) == []
    assert tags.evaluate(condition, ITEM) is expected


@pytest.mark.parametrize(
    ("condition", "fields"),
    [
        ({"field": "length", "op": "exec", "value": 1}, ["condition.op"]),
        ({"field": "__class__", "op": "equals", "value": 1}, ["condition.field"]),
        ({"field": "length", "op": "between", "value": [1]}, ["condition.value"]),
        ({"field": "length", "op": "gt", "value": "long"}, ["condition.value"]),
        ({"field": "length", "op": "in", "value": []}, ["condition.value"]),
        ({"field": "length", "op": "equals"}, ["condition.value"]),
        ({"field": "length", "op": "equals", "value": 1, "extra": 1}, ["condition.extra"]),
        ({"all": []}, ["condition.all"]),
        ({"all": [{"field": "x", "op": "equals", "value": 1}], "any": []}, ["condition"]),
        ({"any": [{"field": "length", "op": "gt", "value": 1}, "text"]}, ["condition.any[1]"]),
        ("length > 5", ["condition"]),
    ],
)
def test_validate_names_the_bad_part(condition: Any, fields: list[str]) -> None:
    assert [e["field"] for e in tags.validate(condition)] == fields


def test_deep_or_huge_trees_are_refused() -> None:
    leaf: dict[str, Any] = {"field": "length", "op": "gt", "value": 1}
    deep: dict[str, Any] = leaf
    for _ in range(tags.MAX_DEPTH + 1):
        deep = {"all": [deep]}
    wide = {"any": [leaf] * (tags.MAX_NODES + 1)}

    assert any("deeper" in e["message"] for e in tags.validate(deep))
    assert any("at most" in e["message"] for e in tags.validate(wide))
