"""The import queue routes S3 notifications to importers by key prefix."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from chalicelib.events import imports


@pytest.fixture
def calls() -> Iterator[list[tuple[str, str]]]:
    seen: list[tuple[str, str]] = []
    saved = dict(imports._importers)

    def importer(obj: imports.S3Object, time_left: imports.TimeLeft) -> None:
        if "poison" in obj.key:
            raise RuntimeError("cannot import")
        seen.append((obj.bucket, obj.key))

    imports.register("dropbox/", importer)
    yield seen
    imports._importers.clear()
    imports._importers.update(saved)


def _message(message_id: str, *keys: str) -> dict[str, str]:
    records = [
        {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "files"}, "object": {"key": key}}} for key in keys
    ]
    return {"messageId": message_id, "body": json.dumps({"Records": records})}


def test_keys_arrive_url_decoded_and_test_events_are_ignored(calls: list[tuple[str, str]]) -> None:
    event = {
        "Records": [
            {"messageId": "t", "body": json.dumps({"Event": "s3:TestEvent"})},
            _message("m1", "dropbox/c1/inventory/my+stock%281%29.csv"),
        ]
    }
    assert imports.handle(event) == {"batchItemFailures": []}
    assert calls == [("files", "dropbox/c1/inventory/my stock(1).csv")]


def test_a_failing_import_reports_only_its_own_message(calls: list[tuple[str, str]]) -> None:
    event = {
        "Records": [
            _message("m1", "dropbox/c1/inventory/a.csv"),
            _message("m2", "dropbox/c1/inventory/poison.csv"),
            _message("m3", "elsewhere/unrouted.csv"),
        ]
    }
    assert imports.handle(event) == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert calls == [("files", "dropbox/c1/inventory/a.csv")]
