"""The README's limits table states the limits the code enforces (OWASP API4: capped and documented)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.core.ids import MAX_ID_CHARS
from chalicelib.core.imports.jobs import MAX_CELL_CHARS, MAX_FILE_BYTES, MAX_FILE_ROWS
from chalicelib.core.limits import BATCH_ENTRIES, LAMBDA_BODY_BYTES
from chalicelib.core.reference import tag_rules
from chalicelib.core.values import MAX_SCALE, MAX_WHOLE_DIGITS
from chalicelib.features.company_inventory import service as inventory
from chalicelib.http.idempotency import MAX_KEY_LENGTH
from chalicelib.http.jsonio import MAX_DEPTH
from chalicelib.settings import Settings
from chalicelib.surfaces.company.orders.models import MAX_LINES

pytestmark = pytest.mark.disable_socket

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
LIMITS = README[README.index("### Limits") :]


def row(name: str) -> str:
    line = next((line for line in LIMITS.splitlines() if line.startswith(f"| {name}")), None)
    assert line is not None, f"the limits table has no row for {name}"
    return line


def test_every_capped_size_and_count_is_in_the_limits_table_with_its_value() -> None:
    default_body = Settings.model_fields["max_body_bytes"].default
    assert default_body == 1024 * 1024 and "1 MiB" in row("request body")
    assert LAMBDA_BODY_BYTES == 4 * 1024 * 1024 and "4 MiB" in row("CSV upload body")
    assert MAX_FILE_BYTES == 512 * 1024 * 1024 and "512 MiB" in row("imported file")
    assert f"{MAX_FILE_ROWS:,}" in row("imported file") and f"{MAX_CELL_CHARS:,}" in row("imported file")
    assert f"{MAX_DEPTH} levels" in row("JSON nesting")
    assert f"{inventory.MAX_ITEMS}" in row("inventory items per request")
    assert f"{BATCH_ENTRIES}" in row("reference entries")
    assert f"{MAX_LINES}" in row("line items per order")
    assert f"1-{MAX_ID_CHARS} characters" in row("an id")
    assert f"productName {inventory.MAX_NAME_CHARS}" in row("names and text")
    assert f"other text {inventory.MAX_TEXT_CHARS}" in row("names and text")
    assert f"{MAX_WHOLE_DIGITS} digits before the point and {MAX_SCALE} after" in row("numbers")
    assert f"{inventory.MAX_TAGS}" in row("manual tags per item")
    assert f"{tag_rules.MAX_DEPTH} levels, {tag_rules.MAX_NODES} conditions" in row("tag rule conditions")
    assert f"text values {tag_rules.MAX_VALUE_CHARS}" in row("tag rule conditions")
    assert f"1-{MAX_KEY_LENGTH}" in row("Idempotency-Key")
