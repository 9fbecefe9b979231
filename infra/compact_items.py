"""A compact item store for moto's DynamoDB tables: each item kept as a few hundred bytes, not ~7 KiB.

moto keeps every item as an `Item` of `DynamoType` objects (one object and
one attribute dict per attribute, nested maps included): about 7.6 KiB for
one of the service's stock records, 60 MiB per 1,000 items. The local stack
would grow past any memory a laptop has on a large import. `install()`
replaces each table's `items` (moto's `defaultdict` of hash key -> item, or
hash key -> {range key -> item}) with `CompactItems`, which keeps each item as
the bytes of its DynamoDB JSON, deflated against a dictionary learnt from the
table's own first items (a stock record of 1.5 KB becomes about 200 bytes),
and decodes a fresh `Item` whenever moto reads one. The keys are kept as
their plain values, ids packed (`infra.compact_keys`), not as `DynamoType`s.
Once the process has a spill file (`infra.spill`, the local stack's), each
blob keeps its deflated body there and holds only its header and its place.
Stream records are kept the same way (`infra.compact_records`).

Everything moto does on top of `items` (GetItem, PutItem, DeleteItem, Query,
Scan, the GSIs it computes by scanning, TransactWriteItems, streams) runs
unchanged; three things change around it:

- moto's UpdateItem changes the item it read in place; a decoded item is a
  copy, so `install` wraps UpdateItem to store the changed item back (an
  update that fails half way therefore leaves the stored item as it was);
- a Query on the table's own key reads its one hash key's items, not every
  item of the table (moto decodes and sorts the whole table for each Query);
  a GSI Query on a string hash key decodes only the items whose fingerprint
  of that attribute matches; a Scan still reads them all, as moto does;
- moto's models register every instance they make in a class-level list
  for its dashboard (`instances_tracked`), so every item and stream record
  ever made stays in memory: `install` stops that.

A decoded item is never shared: changing one (as moto's update does) never
changes what is stored until it is stored again. `generation()` counts the
writes, so the local stack saves its state only when something changed.
"""

from __future__ import annotations

import base64
import json
import threading
import zlib
from collections.abc import Iterator, MutableMapping
from typing import Any

from infra import spill
from infra.compact_keys import dynamo_key, key_of

# A blob's first byte: how the rest is stored.
_RAW = 0  # the JSON itself (before the table has a dictionary)
# 1..len(dictionaries): deflated against that dictionary of the table
# The dictionary is learnt from the table's items: the first after SAMPLES items, another at each step.
SAMPLES = 64
LEARN_AT = (SAMPLES, 1_024, 16_384)
# Raw deflate (no header or checksum per item) with an 8 KiB window: a third of a 32 KiB window's cost to
# set up for each item, for about 200 bytes a stock record where 32 KiB gives 160.
WBITS = -13
DICTIONARY_BYTES = 1 << -WBITS
LEVEL = 6

_writes = [0]  # one cell: bumped by every store, read by generation()
_scope = threading.local()
# A blob's first byte with this bit set: its deflated body is in the spill file, the blob holds its place.
_SPILLED = 0x80
# A blob's first byte with this bit set: its deflated text is in the spill file, the rest of it is its place.


def generation() -> int:
    """How many writes compact tables have taken since the process started."""
    return _writes[0]


class Codec:
    """Encodes items to bytes and back for one table; learns its compression dictionary from the first items.

    A blob is one byte naming its dictionary, then a 4-byte fingerprint (CRC-32)
    of each `index_attrs` string value the item has (zeros where it has none),
    then the item's deflated JSON. A query on a global index compares the
    fingerprints and decodes only the items that may match: without them it
    would inflate every item of the table to search its text.
    """

    def __init__(self, hash_attr: str, range_attr: str | None, index_attrs: tuple[str, ...] = ()) -> None:
        self.hash_attr = hash_attr
        self.range_attr = range_attr
        self.index_attrs = index_attrs
        self._body = 1 + _PRINT * len(index_attrs)  # where the deflated text starts
        self._dictionaries: list[bytes] = []
        self._samples: list[bytes] = []
        self._seen = 0

    # -- DynamoDB JSON <-> bytes

    def pack(self, attrs: dict[str, Any]) -> bytes:
        """DynamoDB JSON (as moto holds it: binary as base64 text, or bytes) to a blob."""
        # surrogatepass: a string DynamoDB JSON can carry (a lone surrogate escape) survives the round trip.
        text = json.dumps(_jsonable(attrs), separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
        self._learn(text)
        prints = b"".join(fingerprint(attrs.get(name)) for name in self.index_attrs)
        if not self._dictionaries:
            return self._kept(_RAW, prints, text)
        number = len(self._dictionaries)
        deflate = zlib.compressobj(LEVEL, zlib.DEFLATED, WBITS, 8, zlib.Z_DEFAULT_STRATEGY, self._dictionaries[-1])
        return self._kept(number, prints, deflate.compress(text) + deflate.flush())

    @staticmethod
    def _kept(number: int, prints: bytes, body: bytes) -> bytes:
        """The blob: its body inline, or its place in the spill file when there is one."""
        place = spill.keep(body) if len(body) > _PLACE else None
        if place is None:
            return bytes((number,)) + prints + body
        return bytes((number | _SPILLED,)) + prints + place.to_bytes(_PLACE, "big")

    def text(self, blob: bytes) -> bytes:
        """A blob's JSON text (UTF-8)."""
        number, body = blob[0], blob[self._body :]
        if number & _SPILLED:
            number, body = number & ~_SPILLED, spill.read(int.from_bytes(body, "big"))
        if number == _RAW:
            return body
        inflate = zlib.decompressobj(WBITS, self._dictionaries[number - 1])
        return inflate.decompress(body) + inflate.flush()

    def print_slice(self, attr: str) -> slice | None:
        """Where a blob holds the fingerprint of `attr`'s value (None: it holds none)."""
        if attr not in self.index_attrs:
            return None
        start = 1 + _PRINT * self.index_attrs.index(attr)
        return slice(start, start + _PRINT)

    def unpack(self, blob: bytes) -> dict[str, Any]:
        """A blob back to DynamoDB JSON."""
        text = self.text(blob)
        loaded: dict[str, Any] = json.loads(text.decode("utf-8", "surrogatepass"), object_hook=_binary_hook)
        return loaded

    def dictionary(self) -> bytes:
        """The latest dictionary learnt (b"" before the first)."""
        return self._dictionaries[-1] if self._dictionaries else b""

    def _learn(self, text: bytes) -> None:
        self._seen += 1
        if len(self._dictionaries) >= len(LEARN_AT):
            return
        self._samples.append(text)
        if len(self._samples) > SAMPLES:
            del self._samples[0]
        if self._seen == LEARN_AT[len(self._dictionaries)]:
            # zlib prefers the dictionary's end (shorter distances): the latest samples go last.
            self._dictionaries.append(b"".join(self._samples)[-DICTIONARY_BYTES:])
            if len(self._dictionaries) == len(LEARN_AT):
                self._samples = []

    # -- Item <-> bytes

    def encode(self, item: Any) -> bytes:
        return self.pack({name: dynamo_json(value) for name, value in item.attrs.items()})

    def decode(self, blob: bytes) -> Any:
        return self.decode_text(self.text(blob))

    def decode_text(self, text: bytes) -> Any:
        from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

        attrs = LimitedSizeDict.__new__(LimitedSizeDict)
        dict.__init__(attrs)  # the item passed moto's size check when it was stored
        loaded = json.loads(text.decode("utf-8", "surrogatepass"), object_hook=_binary_hook)
        for name, value in loaded.items():
            dict.__setitem__(attrs, name, DynamoType(value))
        item = Item.__new__(Item)
        item.attrs = attrs
        item.hash_key = DynamoType(attrs[self.hash_attr])
        item.range_key = DynamoType(attrs[self.range_attr]) if self.range_attr is not None else None
        return item


_PRINT = 4  # bytes of a fingerprint
_NO_PRINT = bytes(_PRINT)
_PLACE = 8  # bytes of a place in the spill file


def fingerprint(value: Any) -> bytes:
    """A string attribute value's CRC-32 (DynamoDB JSON, or a DynamoType); zeros for anything else.

    Two values may share one: a fingerprint only rules items out, moto's own
    condition still decides which of the rest match.
    """
    as_json = value if isinstance(value, dict) else {getattr(value, "type", None): getattr(value, "value", None)}
    inner = as_json.get("S")
    if not isinstance(inner, str):
        return _NO_PRINT
    return zlib.crc32(inner.encode("utf-8", "surrogatepass")).to_bytes(_PRINT, "big")


def dynamo_json(value: Any) -> dict[str, Any]:
    """A DynamoType as DynamoDB JSON."""
    kind = value.type
    inner = value.value
    if kind == "M":
        return {kind: {name: dynamo_json(v) for name, v in inner.items()}}
    if kind == "L":
        return {kind: [dynamo_json(v) for v in inner]}
    return {kind: inner}


_BYTES = "$bytes"  # moto keeps binary as base64 text; bytes (never seen from the wire) are marked


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: _jsonable(v) for name, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return {_BYTES: base64.b64encode(bytes(value)).decode("ascii")}
    return value


def _binary_hook(value: dict[str, Any]) -> Any:
    if len(value) == 1 and _BYTES in value:
        return base64.b64decode(value[_BYTES])
    return value


def _needle(value: Any) -> bytes:
    """A string attribute value as it appears in an item's JSON text (see Codec.pack)."""
    return json.dumps(value.value, ensure_ascii=False).encode("utf-8", "surrogatepass")


class _Bucket(MutableMapping[Any, Any]):
    """The items of one hash key, range key -> item: a view over the store's plain dict.

    The store keeps a hash key's only item as one bytes object, its range
    key and then its blob (`_one`), and two or more as a dict: most
    partitions of the service's tables (a stock record's ledger, an entity's
    history) hold one item, and a dict, or even a pair of a key and a blob,
    costs more than the item itself.
    """

    __slots__ = ("_hash", "_store")

    def __init__(self, store: CompactItems, hash_key: Any) -> None:
        self._store = store
        self._hash = hash_key

    def _entries(self) -> dict[Any, bytes]:
        return _entries(self._store._data.get(self._hash))

    def __getitem__(self, range_key: Any) -> Any:
        return self._store.codec.decode(self._entries()[key_of(range_key)])

    def __setitem__(self, range_key: Any, item: Any) -> None:
        key, blob = key_of(range_key), self._store.codec.encode(item)
        data = self._store._data
        held = data.get(self._hash)
        if isinstance(held, dict):
            held[key] = blob
        else:
            entries = _entries(held)
            entries[key] = blob
            _hold(data, self._hash, entries)
        _writes[0] += 1

    def __delitem__(self, range_key: Any) -> None:
        key = key_of(range_key)
        entries = self._entries()
        del entries[key]  # a KeyError when it is not there, as from a dict
        _writes[0] += 1
        # moto leaves empty buckets behind; nothing reads an empty one differently from none.
        _hold(self._store._data, self._hash, entries)

    def __contains__(self, range_key: object) -> bool:
        return key_of(range_key) in self._entries()

    def __iter__(self) -> Iterator[Any]:
        kind = self._store.range_type
        return iter([dynamo_key(kind, key) for key in self._entries()])

    def __len__(self) -> int:
        return len(self._entries())

    def values(self) -> Any:
        decode = self._store.codec.decode
        return [decode(blob) for blob in list(self._entries().values())]

    def blobs(self) -> list[bytes]:
        return list(self._entries().values())


def _entries(held: Any) -> dict[Any, bytes]:
    """A hash key's items as range key -> blob, however the store holds them (see `_Bucket`)."""
    if held is None:
        return {}
    if isinstance(held, bytes):
        key, blob = _split(held)
        return {key: blob}
    if isinstance(held, tuple):
        return {held[0]: held[1]}
    entries: dict[Any, bytes] = held
    return entries


def _hold(data: dict[Any, Any], hash_key: Any, entries: dict[Any, bytes]) -> None:
    """Keep `entries` under `hash_key` in the store's shape: nothing, one item, or a dict."""
    if not entries:
        data.pop(hash_key, None)
    elif len(entries) == 1:
        ((key, blob),) = entries.items()
        data[hash_key] = _one(key, blob)
    else:
        data[hash_key] = entries


_TEXT_KEY, _BYTES_KEY = 0, 1


def _one(key: Any, blob: bytes) -> bytes | tuple[Any, bytes]:
    """A hash key's only item: its kind of key, the key's length and bytes, then the blob, as one bytes.

    A number key (a Decimal) stays a (key, blob) pair.
    """
    if isinstance(key, str):
        kind, raw = _TEXT_KEY, key.encode("utf-8", "surrogatepass")
    elif isinstance(key, bytes):  # a packed string key, or a binary key: bytes come back as bytes
        kind, raw = _BYTES_KEY, key
    else:
        return (key, blob)
    return bytes((kind,)) + len(raw).to_bytes(2, "big") + raw + blob


def _split(one: bytes) -> tuple[Any, bytes]:
    """The (range key, blob) `_one` made `one` from."""
    end = 3 + int.from_bytes(one[1:3], "big")
    raw = one[3:end]
    return (raw.decode("utf-8", "surrogatepass") if one[0] == _TEXT_KEY else raw), one[end:]


class _Found:
    """Items found for a GSI query, standing in for moto's buckets (it reads only their `values()`)."""

    def __init__(self, items: list[Any]) -> None:
        self._items = items

    def values(self) -> list[Any]:
        return self._items

    def __len__(self) -> int:
        return len(self._items)


class CompactItems(MutableMapping[Any, Any]):
    """A table's items: hash key -> item (or -> range key -> item), each kept as bytes. See the module."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.codec = Codec(table.hash_key_attr, table.range_key_attr, _index_hash_attrs(table))
        self.has_range = table.range_key_attr is not None
        self.hash_type: str = table.hash_key_type
        self.range_type: str = table.range_key_type or "S"
        # hash key -> blob; with a range key, hash key -> (range key, blob) or {range key -> blob}
        self._data: dict[Any, Any] = {}

    def __getitem__(self, hash_key: Any) -> Any:
        key = key_of(hash_key)
        if self.has_range:
            # moto's defaultdict made a bucket on any read; this one appears only when written to.
            return _Bucket(self, key)
        return self.codec.decode(self._data[key])

    def get(self, hash_key: Any, default: Any = None) -> Any:
        key = key_of(hash_key)
        if key not in self._data:
            return default
        return self[hash_key]

    def __setitem__(self, hash_key: Any, value: Any) -> None:
        key = key_of(hash_key)
        if not self.has_range:
            self._data[key] = self.codec.encode(value)
        elif isinstance(value, _Bucket):
            _hold(self._data, key, dict(value._entries()))
        else:  # a dict of range key -> item, as moto's own buckets are
            _hold(self._data, key, {key_of(k): self.codec.encode(v) for k, v in value.items()})
        _writes[0] += 1

    def pop(self, hash_key: Any, *default: Any) -> Any:
        key = key_of(hash_key)
        if key not in self._data:
            if default:
                return default[0]
            raise KeyError(hash_key)
        value = self[hash_key]
        if self.has_range:
            value = dict(zip(value, value.values(), strict=True))
        del self[hash_key]
        return value

    def __delitem__(self, hash_key: Any) -> None:
        del self._data[key_of(hash_key)]
        _writes[0] += 1

    def __contains__(self, hash_key: object) -> bool:
        return key_of(hash_key) in self._data

    def __iter__(self) -> Iterator[Any]:
        return iter([dynamo_key(self.hash_type, key) for key in self._data])

    def __len__(self) -> int:
        return len(self._data)

    def values(self) -> Any:
        if getattr(_scope, "table", None) is self.table and getattr(_scope, "printed", None):
            return self._printed(*_scope.printed)
        if getattr(_scope, "table", None) is self.table and getattr(_scope, "needles", None):
            return self._containing(_scope.needles)
        scope = getattr(_scope, "hash_key", None)
        if scope is not None and getattr(_scope, "table", None) is self.table:
            keys = [scope] if scope in self._data else []
        else:
            keys = list(self._data)
        if self.has_range:
            return [_Bucket(self, key) for key in keys]
        return [self.codec.decode(self._data[key]) for key in keys]

    def _printed(self, where: slice, value: bytes) -> list[Any]:
        """The items whose fingerprint at `where` is `value` (a superset of a GSI query's matches), decoded."""
        decode = self.codec.decode
        found = [decode(blob) for blob in self.blobs() if blob[where] == value]
        return [_Found(found)] if self.has_range else found

    def _containing(self, needles: list[bytes]) -> list[Any]:
        """The items whose JSON text holds every needle (a superset of a GSI query's matches), decoded."""
        text_of, decode = self.codec.text, self.codec.decode_text
        found = []
        for blob in self.blobs():
            text = text_of(blob)
            if all(needle in text for needle in needles):
                found.append(decode(text))
        # moto reads `items.values()` as buckets (with a range key) or as items.
        return [_Found(found)] if self.has_range else found

    def __deepcopy__(self, memo: dict[int, Any]) -> CompactItems:
        # Blobs are immutable: a copy shares them (moto deep-copies `items` for backups and restores).
        copied = CompactItems.__new__(CompactItems)
        copied.__dict__.update(self.__dict__)
        copied._data = {k: dict(v) if isinstance(v, dict) else v for k, v in self._data.items()}
        return copied

    def store(self, item: Any) -> None:
        """Put `item` back under its own keys (after moto changed a decoded copy in place)."""
        if self.has_range:
            self[item.hash_key][item.range_key] = item
        else:
            self[item.hash_key] = item

    def blobs(self) -> Iterator[bytes]:
        """Every stored blob (a snapshot: take it under the backend's lock)."""
        for value in list(self._data.values()):
            if not self.has_range:
                yield value
            elif isinstance(value, dict):
                yield from list(value.values())
            else:
                yield from _entries(value).values()

    def snapshot(self) -> list[bytes]:
        return list(self.blobs())


def _index_hash_attrs(table: Any) -> tuple[str, ...]:
    """The hash key attribute of each global index keyed by one (those a query can find by fingerprint)."""
    found: list[str] = []
    for index in getattr(table, "global_indexes", None) or []:
        hashes = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
        if len(hashes) == 1 and hashes[0] not in found:
            found.append(hashes[0])
    return tuple(found)


def compact(table: Any) -> None:
    """Keep `table`'s items (those it has and those to come) in a `CompactItems` store."""
    if isinstance(table.items, CompactItems):
        return
    patch_moto()
    store = CompactItems(table)
    for item in table.all_items():
        store.store(item)
    table.items = store


def install() -> None:
    """Give every moto table made from now on a `CompactItems` store. Idempotent; see the module."""
    from moto.dynamodb.models.table import Table

    patch_moto()
    if getattr(Table.__init__, "compact", False):
        return
    table_init = Table.__init__

    def compact_init(table: Any, *args: Any, **kwargs: Any) -> None:
        table_init(table, *args, **kwargs)
        table.items = CompactItems(table)

    compact_init.compact = True  # type: ignore[attr-defined]
    Table.__init__ = compact_init  # type: ignore[method-assign]


def patch_moto() -> None:
    """What a compact table needs of moto (each patch leaves other tables as moto has them). Idempotent."""
    from moto.core.common_models import BaseModel
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "compact", False):
        return
    _stop_tracking_instances(BaseModel)

    update_item = DynamoDBBackend.update_item

    def update_and_store(backend: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        item = update_item(backend, table_name, *args, **kwargs)
        items = backend.get_table(table_name).items
        if isinstance(items, CompactItems) and item is not None:
            items.store(item)
        return item

    query = Table.query

    def query_one_hash_key(table: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # moto passes index_name as the eighth positional argument (after range_comparison ... projection).
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if not isinstance(table.items, CompactItems):
            return query(table, hash_key, *args, **kwargs)
        if index_name:
            # A GSI query: decode only the items whose text holds the index's hash key values (strings; a
            # number may be written more than one way, so a query on a number key reads every item).
            conditions = kwargs.get("hash_key_conditions") or []
            needles = [_needle(value) for _, value in conditions if value.type == "S"]
            if not needles or len(needles) != len(conditions):
                return query(table, hash_key, *args, **kwargs)
            where = table.items.codec.print_slice(conditions[0][0]) if len(conditions) == 1 else None
            if where is not None:
                _scope.table, _scope.printed = table, (where, fingerprint(conditions[0][1]))
            else:
                _scope.table, _scope.needles = table, needles
        elif hash_key is not None:
            _scope.table, _scope.hash_key = table, key_of(hash_key)
        else:
            return query(table, hash_key, *args, **kwargs)
        try:
            return query(table, hash_key, *args, **kwargs)
        finally:
            _scope.table = _scope.hash_key = _scope.needles = _scope.printed = None

    def count(table: Any) -> int:
        items = table.items
        if not isinstance(items, CompactItems):
            return table_len(table)
        if not items.has_range:
            return len(items)
        return sum(len(held) if isinstance(held, dict) else 1 for held in items._data.values())

    table_len = Table.__len__
    query_one_hash_key.compact = True  # type: ignore[attr-defined]
    DynamoDBBackend.update_item = update_and_store  # type: ignore[method-assign]
    Table.query = query_one_hash_key  # type: ignore[method-assign]
    Table.__len__ = count  # type: ignore[method-assign]


def _stop_tracking_instances(base: Any) -> None:
    """moto's models keep every instance ever made in a list (for its dashboard): keep none."""

    def untracked(cls: type, *args: Any, **kwargs: Any) -> Any:
        return object.__new__(cls)

    base.__new__ = staticmethod(untracked)

    def clear(cls: type) -> None:
        for sub in cls.__subclasses__():
            tracked = sub.__dict__.get("instances_tracked")
            if isinstance(tracked, list):
                tracked.clear()
            clear(sub)

    clear(base)
