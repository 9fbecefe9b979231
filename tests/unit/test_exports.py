"""The size rule of handed-out downloads (core/exports.py) and ExportService over the in-memory bucket."""

from __future__ import annotations

import base64
import json
import re

import pytest

from chalicelib.core import exports
from chalicelib.core.exports import ExportService, encoded_size, fits_inline
from tests.fakes import InMemoryFiles

pytestmark = pytest.mark.disable_socket

T = "tenant-1"
CSV = "text/csv; charset=utf-8"
ZIP = "application/zip"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


# -- the size a body takes in Lambda's response -----------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 2, 3, 4, 5, 6, 1000, 1001, 1002])
def test_binary_bodies_count_as_their_base64(length: int) -> None:
    body = bytes(range(256)) * (length // 256) + bytes(length % 256)
    assert encoded_size(body) == len(base64.b64encode(body))


def test_plain_ascii_text_counts_as_its_length() -> None:
    assert encoded_size("id,name\r\n") == len("id,name") + 4  # \r and \n take two bytes each once escaped
    assert encoded_size("abc 123") == 7


def test_quotes_and_non_ascii_text_count_as_escaped() -> None:
    # A CSV full of quoted cells and accents is much bigger in the JSON answer than on disk.
    text = '"Müller","Ø 50"\r\n'
    assert encoded_size(text) == len(json.dumps(text)) - 2
    assert encoded_size(text) > len(text.encode("utf-8"))
    assert encoded_size("ü") == len("\\u00fc")
    assert encoded_size("😀") == len("\\ud83d\\ude00")


def test_the_limit_is_inclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports, "MAX_INLINE_BYTES", 8)
    assert fits_inline("12345678")
    assert not fits_inline("123456789")
    assert fits_inline(b"123456")  # 8 in base64
    assert not fits_inline(b"1234567")  # 12 in base64
    # Six characters, but 36 bytes once escaped.
    assert not fits_inline("üüüüüü")


def test_the_default_limit_leaves_room_in_a_6_mb_response() -> None:
    assert exports.MAX_INLINE_BYTES == 4 * 1024 * 1024
    assert exports.MAX_INLINE_BYTES < 6_000_000
    assert fits_inline("x" * exports.MAX_INLINE_BYTES)
    assert not fits_inline("x" * (exports.MAX_INLINE_BYTES + 1))
    assert not fits_inline(b"x" * (exports.MAX_INLINE_BYTES * 3 // 4 + 1))


# -- the service -----------------------------------------------------------------------


def test_a_small_file_is_left_inline_and_nothing_is_stored() -> None:
    store = InMemoryFiles()

    assert ExportService(store).hand_out(T, "orders.csv", "a,b\r\n", CSV) is None
    assert store.objects == {}


def test_a_large_text_file_is_stored_as_utf8_and_handed_out_for_five_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports, "MAX_INLINE_BYTES", 10)
    store = InMemoryFiles()
    text = "name\r\nMüller\r\n"

    url = ExportService(store).hand_out(T, "inventory-t-20260101.csv", text, CSV)

    ((key, stored),) = store.objects.items()
    assert re.fullmatch(rf"exports/{T}/{UUID}/inventory-t-20260101\.csv", key)
    assert stored.body == text.encode("utf-8")
    assert stored.content_type == CSV
    assert stored.metadata == {"tenant-id": T}
    assert stored.content_disposition == 'attachment; filename="inventory-t-20260101.csv"'
    assert url == store.download_url(key, "inventory-t-20260101.csv", CSV, 300)


def test_a_large_binary_file_is_stored_as_is_under_a_new_key_each_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exports, "MAX_INLINE_BYTES", 10)
    store = InMemoryFiles()
    archive = b"PK\x03\x04" + bytes(20)
    service = ExportService(store)

    first = service.hand_out(T, "orders.zip", archive, ZIP)
    second = service.hand_out(T, "orders.zip", archive, ZIP)

    assert first != second
    assert len(store.objects) == 2
    assert all(o.body == archive and o.content_type == ZIP for o in store.objects.values())
    assert all(key.startswith(f"exports/{T}/") and key.endswith("/orders.zip") for key in store.objects)
