"""Conversion between pydantic records and DynamoDB attribute maps.

Numbers stay Decimal in both directions; datetimes are stored as ISO-8601
strings so they sort as text.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeDeserializer, TypeSerializer
from pydantic import BaseModel

from chalicelib.core.ids import utcnow
from chalicelib.core.models import Actor
from chalicelib.storage.keys import stamp

M = TypeVar("M", bound=BaseModel)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
KEY_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk")


def plain(value: Any) -> Any:
    """A value DynamoDB's serializer accepts: Decimals, strings, maps, lists."""
    if isinstance(value, BaseModel):
        return plain(value.model_dump(mode="python"))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return stamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float):
        return Decimal(str(value))
    return value


def to_attrs(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _attribute(v) for k, v in plain(data).items()}


def to_value(value: Any) -> dict[str, Any]:
    return _attribute(plain(value))


def _attribute(value: Any) -> dict[str, Any]:
    """What TypeSerializer.serialize gives, found by exact type for the kinds items are made of.

    TypeSerializer tries each DynamoDB type in turn for every value (sets and
    binaries included) and was the largest single cost of building an item;
    anything but a plain str, bool, Decimal, int, dict, list or None still
    goes through it.
    """
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is bool:
        return {"BOOL": value}
    if kind is Decimal or kind is int:
        number = str(DYNAMODB_CONTEXT.create_decimal(value))
        if number in ("Infinity", "NaN"):
            raise TypeError("Infinity and NaN not supported")
        return {"N": number}
    if kind is dict:
        return {"M": {k: _attribute(v) for k, v in value.items()}}
    if kind is list:
        return {"L": [_attribute(v) for v in value]}
    if value is None:
        return {"NULL": True}
    serialized: dict[str, Any] = _serializer.serialize(value)  # type: ignore[assignment]
    return serialized


def from_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: _value(v) for k, v in attrs.items()}


def _value(attr: dict[str, Any]) -> Any:
    """What TypeDeserializer.deserialize gives, for the kinds items are made of, without its lookups.

    Every item read (and every stream image the audit and events handlers
    take apart) goes through here: TypeDeserializer finds each value's
    method by name, a tenth of a stream handler's time. Sets, binaries and
    anything malformed still go through it (and fail as it fails).
    """
    if len(attr) == 1:
        if "S" in attr:
            return attr["S"]
        if "N" in attr:
            return DYNAMODB_CONTEXT.create_decimal(attr["N"])
        if "M" in attr:
            return {k: _value(v) for k, v in attr["M"].items()}
        if "L" in attr:
            return [_value(v) for v in attr["L"]]
        if "BOOL" in attr:
            return attr["BOOL"]
        if "NULL" in attr:
            return None
    return _deserializer.deserialize(attr)  # type: ignore[arg-type]


def record_item(
    record: BaseModel,
    keys: dict[str, str],
    entity_type: str,
    entity_id: str,
    actor: Actor,
    label: str | None = None,
    parent: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A full item: the record's fields, its keys, and who wrote it when.

    `entity_type`, `entity_id`, `entity_label` and `changed_by_*` let the
    audit stream handler describe any item without knowing its model;
    `parent` (type, id) names the entity whose history timeline also holds
    this one's (an order line's order), as `parent_type` / `parent_id`.
    """
    data = record.model_dump(mode="python")
    data.update(keys)
    data.update(
        entity_type=entity_type,
        entity_id=entity_id,
        entity_label=label,
        changed_by_id=actor.id,
        changed_by_name=actor.name,
        changed_at=utcnow(),
    )
    if parent is not None:
        data.update(parent_type=parent[0], parent_id=parent[1])
    return to_attrs(data)


def to_record(model: type[M], attrs: dict[str, Any]) -> M:
    return model.model_validate(from_attrs(attrs))
