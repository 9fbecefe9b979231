"""The local stack's saved state: its tables, files and queued messages in a local folder, kept across restarts.

`make run` passes `--data .local/stack` (a folder git ignores). The stack
saves there every `--save-every` seconds (30 by default) when something
changed since the last save, and once more when it stops (Ctrl-C or
SIGTERM); the next start puts everything back before anything runs, so the
companies, keys, stock, history, uploaded files and queued work are as they
were. A stack that is killed (SIGKILL, a crash, the machine going down) loses
at most the writes of the last interval. `make reset` (or `--reset`) deletes
the folder first and starts from empty.

A save takes its snapshot of the tables and queues in moto's process, under
the backend's lock (every table, every queue at the same instant: one
consistent state), then writes it out without the lock. Items of compact
tables (`infra.compact_items`) are written as they are stored, without being
decoded into moto's objects.

Restoring writes each item straight into moto's table, without a stream
record: the history table is restored as it was, so the audit handler must
not see the items again as new writes. Files are put back before the bucket
is connected to the import queue, so nothing is imported twice. The messages
that were in the queues (visible or being handled) are sent again: an import
that was queued or running when the stack stopped runs (or resumes from its
checkpoint) after the restart, as after a redelivery.

Layout of the folder (written to a temporary folder and swapped in whole, so
a save cut short never leaves half a state; a start after a crash between
the two renames of the swap takes the previous state, `<folder>.old`):

    tables/<table name>.jsonl   one item per line, in DynamoDB's JSON (binary values base64)
    files/manifest.jsonl        one object per line: key, file, content type, metadata
    files/<etag>                the objects' bytes (an unchanged object is linked from the previous save)
    queues/<queue name>.jsonl   one message per line: body, FIFO group and deduplication id
    demo.json                   the demo company and its API key, printed again on each start
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TABLES = "tables"
FILES = "files"
QUEUES = "queues"
MANIFEST = "manifest.jsonl"
DEMO = "demo.json"


@dataclass
class Snapshot:
    """The tables' items and the queues' messages at one instant (see `snapshot`)."""

    # table name -> items, each the JSON text of one item (bytes) or its DynamoDB JSON (dict)
    tables: dict[str, list[Any]] = field(default_factory=dict)
    decoders: dict[str, Any] = field(default_factory=dict)
    queues: dict[str, list[dict[str, str]]] = field(default_factory=dict)


def reset(folder: Path) -> None:
    """Forget the saved state: the next start begins from empty."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(_sibling(folder, "old"), ignore_errors=True)


def has_state(folder: Path) -> bool:
    return (folder / TABLES).is_dir()


def snapshot(region: str, tables: Iterable[str], queues: Iterable[str]) -> Snapshot:
    """The items of `tables` and the messages of `queues`, read from moto in this process at one instant."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.sqs.models import sqs_backends

    from infra.compact_items import CompactItems
    from infra.moto_server import BACKEND_LOCK

    taken = Snapshot()
    dynamodb = dynamodb_backends[DEFAULT_ACCOUNT_ID][region]
    sqs = sqs_backends[DEFAULT_ACCOUNT_ID][region]
    with BACKEND_LOCK:
        for name in tables:
            table = dynamodb.tables.get(name)
            if table is None:
                continue
            if isinstance(table.items, CompactItems):
                taken.tables[name] = table.items.snapshot()
                taken.decoders[name] = table.items.codec
            else:
                taken.tables[name] = [item.to_json()["Attributes"] for item in table.all_items()]
        for name in queues:
            queue = sqs.queues.get(name)
            if queue is None:
                continue
            taken.queues[name] = [
                {"body": m.body, "group": m.group_id or "", "dedup": m.deduplication_id or ""} for m in queue._messages
            ]
    return taken


def save(folder: Path, taken: Snapshot, s3: Any, bucket: str, demo: dict[str, str]) -> None:
    """Write `taken` and every object of `bucket` to `folder`, replacing what was there."""
    staging = _sibling(folder, "saving")
    shutil.rmtree(staging, ignore_errors=True)
    for part in (TABLES, FILES, QUEUES):
        (staging / part).mkdir(parents=True)
    for table, items in taken.tables.items():
        codec = taken.decoders.get(table)
        with (staging / TABLES / f"{table}.jsonl").open("wb") as out:
            for item in items:
                out.write(_item_line(item, codec))
    for queue, messages in taken.queues.items():
        with (staging / QUEUES / f"{queue}.jsonl").open("w", encoding="utf-8") as out:
            for message in messages:
                out.write(json.dumps(message) + "\n")
    with (staging / FILES / MANIFEST).open("w", encoding="utf-8") as manifest:
        for key, etag in objects(s3, bucket):
            name = etag.strip('"').replace("/", "_") or key.replace("/", "_")
            target = staging / FILES / name
            if not target.exists() and not _link(folder / FILES / name, target):
                target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            head = s3.head_object(Bucket=bucket, Key=key)
            entry = {"key": key, "file": name, "type": head.get("ContentType"), "meta": head.get("Metadata")}
            manifest.write(json.dumps(entry) + "\n")
    (staging / DEMO).write_text(json.dumps(demo))
    old = _sibling(folder, "old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    staging.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def restore(
    folder: Path, tables: Iterable[str], s3: Any, bucket: str, region: str, sqs: Any = None
) -> dict[str, str] | None:
    """Put the saved items, objects and queued messages back (no stream records, no notifications);
    the demo company, if any."""
    old = _sibling(folder, "old")
    if not has_state(folder) and has_state(old):
        old.rename(folder)  # stopped between the two renames of a save: the previous state is whole
    if not has_state(folder):
        return None
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][region]
    for name in tables:
        path = folder / TABLES / f"{name}.jsonl"
        if not path.exists():
            continue
        table = backend.get_table(name)
        shard, table.stream_shard = table.stream_shard, None
        try:
            for line in _lines(path):
                table.put_item(json.loads(line))
        finally:
            table.stream_shard = shard
    manifest = folder / FILES / MANIFEST
    if manifest.exists():
        for line in _lines(manifest):
            entry = json.loads(line)
            extra = {"ContentType": entry["type"]} if entry.get("type") else {}
            body = (folder / FILES / entry["file"]).read_bytes()
            s3.put_object(Bucket=bucket, Key=entry["key"], Body=body, Metadata=entry.get("meta") or {}, **extra)
    if sqs is not None and (folder / QUEUES).is_dir():
        for path in sorted((folder / QUEUES).glob("*.jsonl")):
            url = sqs.get_queue_url(QueueName=path.stem)["QueueUrl"]
            for line in _lines(path):
                message = json.loads(line)
                fifo = {"MessageGroupId": message["group"]} if message.get("group") else {}
                if fifo and message.get("dedup"):
                    fifo["MessageDeduplicationId"] = message["dedup"]
                sqs.send_message(QueueUrl=url, MessageBody=message["body"], **fifo)
    demo = folder / DEMO
    loaded: dict[str, str] | None = json.loads(demo.read_text()) if demo.exists() else None
    return loaded


def objects(s3: Any, bucket: str) -> Iterator[tuple[str, str]]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            yield obj["Key"], obj.get("ETag", "")


def _link(source: Path, target: Path) -> bool:
    """Link an unchanged object's file from the previous save instead of reading it again."""
    try:
        os.link(source, target)
    except OSError:
        return False
    return True


def _sibling(folder: Path, suffix: str) -> Path:
    return folder.with_name(f"{folder.name}.{suffix}")


_BYTES_MARK = b'"$bytes"'


def _item_line(item: Any, codec: Any) -> bytes:
    """One item as a line of DynamoDB JSON: a compact item's own JSON text when it holds no raw bytes."""
    if codec is not None:
        text: bytes = codec.text(item)
        if _BYTES_MARK not in text:
            return text + b"\n"
        item = codec.unpack(item)
    return json.dumps(_wire(item), separators=(",", ":")).encode() + b"\n"


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8", errors="surrogatepass") as lines:
        yield from (line for line in lines if line.strip())


def _wire(value: Any) -> Any:
    """boto3's decoded attribute values back into DynamoDB's JSON (binary values base64, as on the wire)."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_wire(v) for v in value]
    return value
