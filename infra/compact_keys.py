"""How the compact item store (`infra.compact_items`) keeps DynamoDB keys: plain values, ids as bytes.

A key is kept as its plain value (a Decimal for a number, bytes for binary),
not as moto's `DynamoType`; a string key with ids in it is packed, each id
as its 16 bytes (`pack_key`), and unpacked exactly (`unpack_key`).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any


def key_of(value: Any) -> Any:
    """The plain dict key of a DynamoType key (a number compares by value, as DynamoType hashes it).

    A string key is kept packed (`pack_key`) when it holds ids.
    """
    if value.type == "N":
        return Decimal(value.value)
    if value.type == "S":
        return pack_key(value.value)
    if isinstance(value.value, bytearray):
        return bytes(value.value)
    return value.value


def dynamo_key(kind: str, key: Any) -> Any:
    """A kept key back as the DynamoType moto compares and hands out (`kind`: the key's type)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if kind == "N":
        return DynamoType({kind: str(key)})
    if kind == "S" and isinstance(key, bytes):
        return DynamoType({kind: unpack_key(key)})
    return DynamoType({kind: key})


# Ids in keys: a UUID (36 characters) or 32 hex digits, each kept as its 16 bytes.
_IDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}")
_UUID, _HEX, _ESCAPE = 0, 1, 2  # a marker byte: 16 bytes of a UUID or of hex digits follow; one literal byte


def pack_key(text: str) -> str | bytes:
    """A string key with the ids in it as bytes (`T#<uuid>#LEDGER#<uuid>`: 82 characters, 44 bytes).

    The keys of a large table are a third of what the local stack holds: a
    million-row import makes six keys a row, most of them ids. A key without
    ids stays the string it is. The packing can be undone (`unpack_key`), so
    two keys are equal packed exactly when they were equal as text.
    """
    if _IDS.search(text) is None:
        return text
    packed = bytearray()
    position = 0
    for found in _IDS.finditer(text):
        packed += _escaped(text[position : found.start()])
        digits = found.group()
        packed.append(_UUID if len(digits) == 36 else _HEX)
        packed += bytes.fromhex(digits.replace("-", ""))
        position = found.end()
    packed += _escaped(text[position:])
    return bytes(packed)


def _escaped(text: str) -> bytes:
    raw = text.encode("utf-8", "surrogatepass")
    if min(raw, default=_ESCAPE + 1) > _ESCAPE:  # no marker byte in it (UTF-8 never makes one inside a character)
        return raw
    return b"".join(bytes((_ESCAPE, byte)) if byte <= _ESCAPE else bytes((byte,)) for byte in raw)


def unpack_key(packed: bytes) -> str:
    """The string `pack_key` made `packed` from."""
    parts: list[str] = []
    start = at = 0
    while at < len(packed):
        marker = packed[at]
        if marker > _ESCAPE:
            at += 1
            continue
        parts.append(packed[start:at].decode("utf-8", "surrogatepass"))
        if marker == _ESCAPE:
            parts.append(chr(packed[at + 1]))
            at += 2
        else:
            digits = packed[at + 1 : at + 17].hex()
            if marker == _UUID:
                digits = f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
            parts.append(digits)
            at += 17
        start = at
    parts.append(packed[start:].decode("utf-8", "surrogatepass"))
    return "".join(parts)
