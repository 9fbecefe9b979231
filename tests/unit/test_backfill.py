"""core/backfill.run_backfill over an in-memory store: passes in order, bounded pages per invocation,
the cursor kept between invocations and deleted by the run that ends the last pass."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.core.backfill import PASSES, Cursor, Fixed, run_backfill

pytestmark = pytest.mark.disable_socket


class FakeStore:
    """Each pass's partition as a list of items; an item is True while it needs fixing."""

    def __init__(self, items: dict[str, list[bool]]) -> None:
        self.items = items
        self.cursor: Cursor | None = None
        self.cursor_writes = 0
        self.pages: list[tuple[str, int]] = []

    def fix_page(self, tenant_id: str, phase: str, start: dict[str, Any] | None, limit: int) -> Fixed:
        position = int(start["at"]) if start else 0
        partition = self.items.get(phase, [])
        page = range(position, min(position + limit, len(partition)))
        self.pages.append((phase, position))
        written = 0
        for index in page:
            if partition[index]:
                partition[index] = False
                written += 1
        end = position + len(page)
        return Fixed(len(page), written, 0, {"at": end} if end < len(partition) else None)

    def load_cursor(self, tenant_id: str) -> Cursor | None:
        return self.cursor

    def save_cursor(self, tenant_id: str, cursor: Cursor) -> None:
        self.cursor = Cursor(cursor.phase, dict(cursor.start) if cursor.start else None)
        self.cursor_writes += 1

    def clear_cursor(self, tenant_id: str) -> None:
        self.cursor = None
        self.cursor_writes += 1


def test_one_run_fixes_every_pass_in_order_and_keeps_no_cursor() -> None:
    store = FakeStore({"products": [True, False], "locations": [True], "records": [True, True], "ledger": [True]})

    summary = run_backfill(store, "t")

    assert summary.done and summary.public()["resumesAt"] is None
    assert (summary.numbered_products, summary.numbered_locations) == (1, 1)
    assert (summary.indexed_records, summary.indexed_movements) == (2, 1)
    assert [phase for phase, _ in store.pages] == list(PASSES)
    assert store.cursor is None and store.cursor_writes == 0


def test_a_bounded_run_keeps_its_place_and_the_next_resumes_there() -> None:
    store = FakeStore({"products": [True] * 5, "ledger": [True] * 3})

    first = run_backfill(store, "t", pages=2, page_items=2)

    assert not first.done and first.numbered_products == 4
    assert store.cursor == Cursor("products", {"at": 4})
    runs = [first]
    while not runs[-1].done:
        runs.append(run_backfill(store, "t", pages=2, page_items=2))
    assert sum(r.numbered_products for r in runs) == 5
    assert sum(r.indexed_movements for r in runs) == 3
    # The run that ended the last pass deleted the cursor
    assert store.cursor is None


def test_a_second_run_writes_nothing() -> None:
    store = FakeStore({"products": [True], "records": [True]})
    run_backfill(store, "t")
    writes = store.cursor_writes

    again = run_backfill(store, "t")

    assert again.done
    assert sum(again.written_by_phase.values()) == 0
    assert store.cursor_writes == writes
