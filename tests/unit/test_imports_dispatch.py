"""The import queue routes S3 notifications to importers by key prefix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.events import imports


@pytest.fixture
def calls() -> Iterator[list[tuple[str, str]]]:
    seen: list[tuple[str, str]] = []
    saved, saved_give_ups = dict(imports._importers), dict(imports._give_ups)

    def importer(obj: imports.S3Object, delivery: imports.Delivery) -> None:
        if "poison" in obj.key:
            raise RuntimeError("cannot import")
        seen.append((obj.bucket, obj.key))

    def give_up(obj: imports.S3Object, reason: str) -> None:
        seen.append(("gave up", obj.key))

    imports.register("dropbox/", importer, give_up)
    yield seen
    imports._importers.clear()
    imports._importers.update(saved)
    imports._give_ups.clear()
    imports._give_ups.update(saved_give_ups)


def _message(message_id: str, *keys: str, receives: int = 1, queue: str = "stockroom-imports") -> dict[str, Any]:
    records = [
        {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "files"}, "object": {"key": key}}} for key in keys
    ]
    return {
        "messageId": message_id,
        "body": json.dumps({"Records": records}),
        "attributes": {"ApproximateReceiveCount": str(receives)},
        "eventSourceARN": f"arn:aws:sqs:eu-west-1:123456789012:{queue}",
    }


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


def test_the_last_delivery_is_told_by_the_receive_count(calls: list[tuple[str, str]]) -> None:
    seen: list[bool] = []
    saved = dict(imports._importers)
    imports.register("dropbox/", lambda obj, delivery: seen.append(delivery.last))
    try:
        imports.handle({"Records": [_message("m1", "dropbox/c/inventory/a.csv", receives=4)]})
        imports.handle({"Records": [_message("m2", "dropbox/c/inventory/a.csv", receives=5)]})
    finally:
        imports._importers.update(saved)

    assert seen == [False, True]


def test_dead_letters_give_their_jobs_up_and_are_never_reported_failed(calls: list[tuple[str, str]]) -> None:
    event = {
        "Records": [
            _message("d1", "dropbox/c1/inventory/poison.csv", receives=1, queue="stockroom-imports-dlq"),
            {"messageId": "d2", "body": "not json", "eventSourceARN": "arn:aws:sqs:eu-west-1:1:stockroom-imports-dlq"},
        ]
    }

    assert imports.handle(event) == {"batchItemFailures": []}
    assert calls == [("gave up", "dropbox/c1/inventory/poison.csv")]


def test_a_dead_letter_whose_job_cannot_be_failed_is_reported_so_it_comes_back() -> None:
    saved = dict(imports._give_ups)

    def broken(obj: imports.S3Object, reason: str) -> None:
        raise ConnectionError("storage unavailable")

    imports._give_ups["dropbox/"] = broken
    try:
        event = {"Records": [_message("d1", "dropbox/c1/inventory/a.csv", queue="stockroom-imports-dlq")]}
        assert imports.handle(event) == {"batchItemFailures": [{"itemIdentifier": "d1"}]}
    finally:
        imports._give_ups.clear()
        imports._give_ups.update(saved)
