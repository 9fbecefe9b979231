"""Tag rules as data: a small, safe interpreter for condition trees.

A condition is JSON, never code:

    {"all": [cond, ...]}            every sub-condition holds
    {"any": [cond, ...]}            at least one holds
    {"field": F, "op": OP, "value": V}

OP is one of equals, in, between, gt, gte, lt, lte, contains. F is one of the
documented inventory item fields (`FIELDS`). Text compares case-insensitively;
numbers compare as Decimal. A missing field never matches (except that it is
simply false under `any`). Trees are validated when a rule is stored, so
evaluation never meets an unknown operator.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.core.values import number_problem, text_problem

# The 000 item fields a rule may test.
FIELDS = frozenset(
    {
        "productName",
        "quantity",
        "weight",
        "heatCode",
        "diameter",
        "length",
        "width",
        "depth",
        "type",
        "material",
        "supplierId",
        "stockLocationId",
        "unitPrice",
        "typeLabel",
        "materialLabel",
        "supplierName",
        "stockLocationLabel",
        "millCertificationId",
    }
)
COMPARISONS = frozenset({"gt", "gte", "lt", "lte"})
OPERATORS = frozenset({"equals", "in", "between", "contains"}) | COMPARISONS
GROUPS = ("all", "any")
# Rules are small; the limits keep a hostile rule from costing much to store or run.
MAX_DEPTH = 8
MAX_NODES = 200
# A text value in a rule (an item's text fields are at most this long too).
MAX_VALUE_CHARS = 200

Error = dict[str, str]


def validate(condition: Any, path: str = "condition") -> list[Error]:
    """Every problem of a condition tree, each naming where it is (e.g. `condition.all[1].op`)."""
    errors: list[Error] = []
    count = [0]
    _check(condition, path, 1, errors, count)
    if count[0] > MAX_NODES:
        errors.append({"field": path, "message": f"at most {MAX_NODES} conditions"})
    return errors


def _check(node: Any, path: str, depth: int, errors: list[Error], count: list[int]) -> None:
    count[0] += 1
    if depth > MAX_DEPTH:
        errors.append({"field": path, "message": f"nested deeper than {MAX_DEPTH}"})
        return
    if not isinstance(node, Mapping):
        errors.append({"field": path, "message": "must be an object"})
        return
    groups = [g for g in GROUPS if g in node]
    if groups:
        if len(node) != 1:
            errors.append({"field": path, "message": "a group holds only 'all' or 'any'"})
            return
        children = node[groups[0]]
        if not isinstance(children, list) or not children:
            errors.append({"field": f"{path}.{groups[0]}", "message": "must be a non-empty list"})
            return
        for index, child in enumerate(children):
            _check(child, f"{path}.{groups[0]}[{index}]", depth + 1, errors, count)
        return
    _check_leaf(node, path, errors)


def _check_leaf(node: Mapping[str, Any], path: str, errors: list[Error]) -> None:
    unknown = sorted(set(node) - {"field", "op", "value"})
    if unknown:
        errors.append({"field": f"{path}.{unknown[0]}", "message": "unknown key"})
    field, op, value = node.get("field"), node.get("op"), node.get("value")
    if not isinstance(field, str):
        errors.append({"field": f"{path}.field", "message": "must be the name of a field (text)"})
    elif field not in FIELDS:
        errors.append({"field": f"{path}.field", "message": f"unknown field {field[:100]!r}"})
    if not isinstance(op, str):
        errors.append({"field": f"{path}.op", "message": f"must be one of {', '.join(sorted(OPERATORS))}"})
        return
    if op not in OPERATORS:
        errors.append({"field": f"{path}.op", "message": f"unknown operator {op[:100]!r}"})
        return
    if "value" not in node:
        errors.append({"field": f"{path}.value", "message": "is required"})
        return
    problem = _value_problem(op, value)
    if problem:
        errors.append({"field": f"{path}.value", "message": problem})


def _value_problem(op: str, value: Any) -> str | None:
    # Every number and text in a rule meets the bounds of any stored value (1e400 is not storable).
    for part in value if isinstance(value, list) else [value]:
        if isinstance(part, Decimal | int | float) and not isinstance(part, bool):
            problem = number_problem(Decimal(str(part)))
            if problem is not None:
                return problem
        elif isinstance(part, str):
            problem = text_problem(part, MAX_VALUE_CHARS)
            if problem is not None:
                return problem
    if op == "in":
        ok = isinstance(value, list) and bool(value) and all(_scalar(v) for v in value)
        return None if ok else "must be a non-empty list of values"
    if op == "between":
        ok = isinstance(value, list) and len(value) == 2 and all(_number(v) is not None for v in value)
        return None if ok else "must be [low, high] numbers"
    if op in COMPARISONS:
        return None if _number(value) is not None else "must be a number"
    return None if _scalar(value) else "must be a text or a number"


def evaluate(condition: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    """Whether `item` (a mapping of documented field names) satisfies a validated condition."""
    if "all" in condition:
        return all(evaluate(child, item) for child in condition["all"])
    if "any" in condition:
        return any(evaluate(child, item) for child in condition["any"])
    actual = item.get(condition["field"])
    if actual is None:
        return False
    return _matches(condition["op"], actual, condition["value"])


def _matches(op: str, actual: Any, value: Any) -> bool:
    if op == "equals":
        return _same(actual, value)
    if op == "in":
        return any(_same(actual, v) for v in value)
    if op == "contains":
        return str(value).casefold() in str(actual).casefold()
    number = _number(actual)
    if number is None:
        return False
    if op == "between":
        low, high = _number(value[0]), _number(value[1])
        return low is not None and high is not None and low <= number <= high
    bound = _number(value)
    if bound is None:
        return False
    return {
        "gt": number > bound,
        "gte": number >= bound,
        "lt": number < bound,
        "lte": number <= bound,
    }[op]


def _same(actual: Any, value: Any) -> bool:
    a, b = _number(actual), _number(value)
    if a is not None and b is not None:
        return a == b
    return str(actual).casefold() == str(value).casefold()


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | Decimal | float) and not isinstance(value, bool)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal | int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None
