"""The local stack's saved state: its tables and files in a local folder, kept across restarts.

`make run` passes `--data .local/stack` (a folder git ignores). When the stack
stops (Ctrl-C or SIGTERM) it writes every item of every table and every object
of the bucket there; the next start puts them back before anything runs, so
the companies, keys, stock, history and uploaded files are as they were.
`make reset` (or `--reset`) deletes the folder first and starts from empty.

Restoring writes each item straight into moto's table, without a stream
record: the history table is restored as it was, so the audit handler must
not see the items again as new writes. Files are put back before the bucket
is connected to the import queue, so nothing is imported twice. Messages still
waiting in the import queue at shutdown are not kept (an import cut short
by a stop stays as its job last recorded it).

Layout of the folder (written to a temporary folder and swapped in whole, so
a stop cut short never leaves half a state):

    tables/<table name>.jsonl   one item per line, in DynamoDB's JSON (binary values base64)
    files/manifest.jsonl        one object per line: key, file, content type, metadata
    files/<n>                   the objects' bytes
    demo.json                   the demo company and its API key, printed again on each start
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

TABLES = "tables"
FILES = "files"
MANIFEST = "manifest.jsonl"
DEMO = "demo.json"


def reset(folder: Path) -> None:
    """Forget the saved state: the next start begins from empty."""
    shutil.rmtree(folder, ignore_errors=True)


def has_state(folder: Path) -> bool:
    return (folder / TABLES).is_dir()


def save(folder: Path, dynamodb: Any, s3: Any, tables: Iterable[str], bucket: str, demo: dict[str, str]) -> None:
    """Write every item of `tables` and every object of `bucket` to `folder`, replacing what was there."""
    staging = folder.with_name(folder.name + ".saving")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / TABLES).mkdir(parents=True)
    (staging / FILES).mkdir()
    for table in tables:
        with (staging / TABLES / f"{table}.jsonl").open("w", encoding="utf-8") as out:
            for item in _scan(dynamodb, table):
                out.write(json.dumps(_wire(item), separators=(",", ":")) + "\n")
    with (staging / FILES / MANIFEST).open("w", encoding="utf-8") as manifest:
        for number, key in enumerate(_keys(s3, bucket)):
            obj = s3.get_object(Bucket=bucket, Key=key)
            (staging / FILES / str(number)).write_bytes(obj["Body"].read())
            entry = {"key": key, "file": str(number), "type": obj.get("ContentType"), "meta": obj.get("Metadata")}
            manifest.write(json.dumps(entry) + "\n")
    (staging / DEMO).write_text(json.dumps(demo))
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    staging.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def restore(folder: Path, tables: Iterable[str], s3: Any, bucket: str, region: str) -> dict[str, str] | None:
    """Put the saved items and objects back (no stream records, no notifications); the demo company, if any."""
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
    demo = folder / DEMO
    loaded: dict[str, str] | None = json.loads(demo.read_text()) if demo.exists() else None
    return loaded


def _scan(dynamodb: Any, table: str) -> Iterator[dict[str, Any]]:
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        yield from page.get("Items", [])


def _keys(s3: Any, bucket: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            yield obj["Key"]


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as lines:
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
