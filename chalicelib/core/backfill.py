"""The `backfill` job: bring one company's data written before the 004 and events work up to date.

Four passes, in this order, each over one partition of the company, page by page:

1. `products`: a product without a numeric `productId` gets one (the create path's counter and
   `PRODUCTNO` guard, `storage/catalog_repo`);
2. `locations`: a location without a numeric `warehouseId` gets one (0 for the default location,
   else the counter's, with its `LOCATIONNO` guard);
3. `records`: a stock record without its gsi3 `STOCKTYPE` entry (the 004 search by type) gets it;
4. `ledger`: a ledger line without its gsi2 `BYTIME` entry (the record's ledger in time: as-of
   reads) gets it;
5. `keys`: every stock record (active or not) is in its product's stock keys (`keys.product_stock`,
   the batched reads of many products): per page, the keys items of the page's products are read
   (BatchGetItem) and each product missing some of the page's ids gets ONE `ADD` of them all.

Every write is conditional on the item still lacking what it adds (a product or location also on
its version, so a concurrent edit and the backfill cannot overwrite each other), so running the job
twice, or two at once, changes nothing the second time (the `keys` pass writes only ids its read found
missing, and ADD of an id already there changes nothing), and an item created meanwhile (numbered and
indexed by its create path) is never touched. An invocation reads at most `PAGES_PER_RUN` pages of
`PAGE_ITEMS` items; when it stops before the last pass ends it keeps where it was (the cursor item)
and the next invocation goes on from there. A run that ends the last pass deletes the cursor, so the
run after it starts over, finds nothing and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# Items read per Query page, and pages per invocation: the bound on one invocation's work
# (each item read costs at most one write).
PAGE_ITEMS = 100
PAGES_PER_RUN = 10
PASSES = ("products", "locations", "records", "ledger", "keys")


@dataclass
class Cursor:
    """Where a company's backfill stands: the pass and the page key to resume from (None: its start)."""

    phase: str = PASSES[0]
    start: dict[str, Any] | None = None


@dataclass(frozen=True)
class Fixed:
    """What one page did: items read, items written, items a concurrent write changed first (left to
    the next run), and the key to read on from (None: the pass is done)."""

    read: int
    written: int
    raced: int
    next_start: dict[str, Any] | None


@dataclass
class Summary:
    numbered_products: int = 0
    numbered_locations: int = 0
    indexed_records: int = 0
    indexed_movements: int = 0
    keyed_records: int = 0
    read: int = 0
    raced: int = 0
    done: bool = False
    phase: str | None = None
    written_by_phase: dict[str, int] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {
            "productsNumbered": self.numbered_products,
            "locationsNumbered": self.numbered_locations,
            "recordsIndexed": self.indexed_records,
            "movementsIndexed": self.indexed_movements,
            "recordsKeyed": self.keyed_records,
            "itemsRead": self.read,
            "raced": self.raced,
            "done": self.done,
            "resumesAt": None if self.done else self.phase,
        }


class BackfillStore(Protocol):
    """Storage of the backfill (`storage/backfill_repo.DynamoBackfillStore`)."""

    def fix_page(self, tenant_id: str, phase: str, start: dict[str, Any] | None, limit: int) -> Fixed:
        """Read one page of the phase's partition (at most `limit` items) and fix the items that need it."""
        ...

    def load_cursor(self, tenant_id: str) -> Cursor | None: ...

    def save_cursor(self, tenant_id: str, cursor: Cursor) -> None: ...

    def clear_cursor(self, tenant_id: str) -> None: ...


def run_backfill(
    store: BackfillStore, tenant_id: str, pages: int = PAGES_PER_RUN, page_items: int = PAGE_ITEMS
) -> Summary:
    """One bounded invocation for one company: resume at its cursor, read at most `pages` pages."""
    kept = store.load_cursor(tenant_id)
    cursor = kept or Cursor()
    summary = Summary()
    for _ in range(pages):
        fixed = store.fix_page(tenant_id, cursor.phase, cursor.start, page_items)
        summary.read += fixed.read
        summary.raced += fixed.raced
        summary.written_by_phase[cursor.phase] = summary.written_by_phase.get(cursor.phase, 0) + fixed.written
        if fixed.next_start is not None:
            cursor.start = fixed.next_start
            continue
        following = PASSES.index(cursor.phase) + 1
        if following == len(PASSES):
            summary.done = True
            break
        cursor = Cursor(PASSES[following])
    written = summary.written_by_phase
    summary.numbered_products = written.get("products", 0)
    summary.numbered_locations = written.get("locations", 0)
    summary.indexed_records = written.get("records", 0)
    summary.indexed_movements = written.get("ledger", 0)
    summary.keyed_records = written.get("keys", 0)
    summary.phase = cursor.phase
    if summary.done:
        if kept is not None:
            store.clear_cursor(tenant_id)
    else:
        store.save_cursor(tenant_id, cursor)
    return summary
