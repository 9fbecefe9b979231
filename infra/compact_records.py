"""Stream records of the compact item store's tables, kept deflated (on disk, in the local stack) until read.

moto makes a `StreamRecord` for every change of a table with a stream and
keeps it, both images as nested dicts, until the local stack trims it; while
the stream consumers run behind a large import the waiting records grow with
it. `compact_stream_records()` makes each record straight to its JSON text,
deflated against the table's dictionary (`infra.compact_items.Codec`), and
the local stack keeps that in its spill file (`infra.spill`).
"""

from __future__ import annotations

import base64
import json
import time
import zlib
from typing import Any

from infra import spill
from infra.compact_items import WBITS, dynamo_json


class CompactRecord:
    """A stream record kept as its deflated JSON until it is read (see `compact_stream_records`)."""

    __slots__ = ("_blob", "_dictionary", "_size")

    def __init__(self, blob: bytes | int, size: int, dictionary: bytes) -> None:
        self._blob = blob  # or its place in the spill file, while consumers run behind a large import
        self._size = size
        self._dictionary = dictionary  # shared with the table's codec (b"": none)

    @classmethod
    def of(cls, table: Any, event_name: str, old: Any, new: Any, sequence: int) -> CompactRecord:
        """The record moto's `StreamRecord` makes, built as JSON text once (moto dumps it twice, keeps dicts)."""
        from moto.moto_api._internal import mock_random

        view = table.stream_specification["StreamViewType"]
        changed = old if old is not None else new
        keys = {table.hash_key_attr: dynamo_json(changed.hash_key)}
        if table.range_key_attr is not None:
            keys[table.range_key_attr] = dynamo_json(changed.range_key)
        data: dict[str, Any] = {
            "StreamViewType": view,
            # moto's time is a naive UTC datetime: kept as epoch seconds, given back as the same naive datetime.
            "ApproximateCreationDateTime": time.time(),
            "SequenceNumber": str(sequence),
            "Keys": keys,
        }
        if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and new is not None:
            data["NewImage"] = {name: dynamo_json(value) for name, value in new.attrs.items()}
        if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and old is not None:
            data["OldImage"] = {name: dynamo_json(value) for name, value in old.attrs.items()}
        record = {
            "eventID": mock_random.uuid4().hex,
            "eventName": event_name,
            "eventSource": "aws:dynamodb",
            "eventVersion": "1.0",
            "awsRegion": "us-east-1",
            "dynamodb": data,
        }
        text = json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=_record_default)
        # The images are the table's items: its codec's dictionary halves a record (870 -> 440 bytes).
        codec = getattr(table.items, "codec", None)
        dictionary = codec.dictionary() if codec is not None else b""
        deflate = zlib.compressobj(1, zlib.DEFLATED, WBITS, 8, zlib.Z_DEFAULT_STRATEGY, dictionary)
        blob = deflate.compress(text.encode("utf-8", "surrogatepass")) + deflate.flush()
        place = spill.keep(blob)
        # moto's SizeBytes: the length of the record's JSON ("a substantial overestimate", in its own words).
        return cls(blob if place is None else place, len(text), dictionary)

    def to_json(self) -> dict[str, Any]:
        from moto.core.utils import utcfromtimestamp

        blob = self._blob
        if isinstance(blob, int):
            blob = spill.read(blob)
        inflate = zlib.decompressobj(WBITS, self._dictionary)
        text = inflate.decompress(blob) + inflate.flush()
        record: dict[str, Any] = json.loads(text.decode("utf-8", "surrogatepass"))
        data = record["dynamodb"]
        data["ApproximateCreationDateTime"] = utcfromtimestamp(data["ApproximateCreationDateTime"])
        data["SizeBytes"] = self._size
        return record


def _record_default(value: Any) -> Any:
    # Binary as base64 text, as moto's own records (and the wire) carry it.
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"{type(value).__name__} in a stream record")


def compact_stream_records() -> None:
    """Keep each new stream record deflated until it is read. Idempotent.

    A record holds both images as nested dicts, about as large as moto's own
    items; the local stack trims records once both stream consumers handled
    them, but while its stream delivery runs behind a large import the
    records waiting grow with the import. Deflated, each is a few hundred bytes.
    The record is made as moto makes it (`StreamRecord`), straight to its text.
    """
    from moto.dynamodb.models.table import StreamShard

    original = StreamShard.add
    if getattr(original, "compact", False):
        return

    def add(shard: Any, old: Any, new: Any) -> None:
        if shard.table.lambda_event_source_mappings:  # moto hands records to its own Lambda: leave it to moto
            original(shard, old, new)
            return
        event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
        sequence = len(shard.items) + shard.starting_sequence_number
        shard.items.append(CompactRecord.of(shard.table, event_name, old, new, sequence))

    add.compact = True  # type: ignore[attr-defined]
    StreamShard.add = add  # type: ignore[method-assign]
