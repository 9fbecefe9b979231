"""Every DynamoDB key Stockroom writes is built here, and every one starts
with the tenant (`T#<tenant>`), so IAM `dynamodb:LeadingKeys` can fence a
tenant in. docs/architecture.md holds the full access-pattern table.
"""

from __future__ import annotations

from datetime import UTC, datetime


def stamp(moment: datetime) -> str:
    """Fixed-width UTC time, so keys and stored times sort as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def tenant(t: str) -> str:
    return f"T#{t}"


def tenant_item(t: str) -> dict[str, str]:
    return {"pk": tenant(t), "sk": "TENANT"}


# Scheduled jobs walk all tenants through this sparse index partition; no
# request path reads it.
TENANTS_INDEX_PK = "TENANTS"


def api_key(t: str, key_id: str) -> dict[str, str]:
    return {"pk": tenant(t), "sk": f"KEY#{key_id}"}


def api_keys_prefix(t: str) -> tuple[str, str]:
    return tenant(t), "KEY#"


def oauth_client(t: str, client_id: str) -> dict[str, str]:
    return {"pk": oauth_clients_partition(t), "sk": client_id}


def oauth_clients_partition(t: str) -> str:
    return f"{tenant(t)}#OAUTHCLIENT"


def oauth_token_requests(t: str, client_id: str, window_start: int) -> dict[str, str]:
    """The idempotency table's counter of one client's token requests in one minute (TTL-expired)."""
    return {"pk": f"{tenant(t)}#OAUTHRATE", "sk": f"{client_id}#{window_start}"}


def product(t: str, product_id: str) -> dict[str, str]:
    return {"pk": f"T#{t}#PRODUCT", "sk": product_id}


def products_partition(t: str) -> str:
    return f"T#{t}#PRODUCT"


def location(t: str, location_id: str) -> dict[str, str]:
    return {"pk": f"T#{t}#LOCATION", "sk": location_id}


def locations_partition(t: str) -> str:
    return f"T#{t}#LOCATION"


def bin_(t: str, location_id: str, bin_id: str) -> dict[str, str]:
    return {"pk": f"T#{t}#BIN", "sk": f"{location_id}#{bin_id}"}


def unique(t: str, kind: str, value: str) -> dict[str, str]:
    """Guard item that makes (tenant, kind, value) unique and maps it to an id."""
    return {"pk": f"T#{t}#UNIQUE", "sk": f"{kind}#{value}"}


# A product's stock keys hold at most this many ids (36 KB; every ADD rewrites the item, and DynamoDB bills a
# write by the item's size). Past it the item is flagged `PRODUCT_STOCK_FULL` and stops growing.
PRODUCT_STOCK_KEYS_CAP = 1_000
PRODUCT_STOCK_FULL = "stock_ids_full"


def product_stock(t: str, product_id: str) -> dict[str, str]:
    """The product's stock keys: a string set `stock_ids` of every record created for (or moved to) it, ADDed
    in the transaction that creates (or moves) each record and DELETEd when a record moves to another product
    (deleted records stay: deletes are soft), so a page of products reads its records by BatchGetItem instead
    of one gsi1 Query per product. The `backfill` job adds records written before the keys existed. A product
    with more records than PRODUCT_STOCK_KEYS_CAP has its keys flagged full, and is read by its gsi1 Query."""
    return {"pk": f"T#{t}#PRODUCTSTOCK", "sk": product_id}


def stock(t: str, stock_id: str) -> dict[str, str]:
    return {"pk": f"T#{t}#STOCK", "sk": stock_id}


def stocks_partition(t: str) -> str:
    return f"T#{t}#STOCK"


def stock_by_product(t: str, product_id: str, location_id: str, stock_id: str) -> dict[str, str]:
    return {"gsi1pk": f"T#{t}#PRODUCT#{product_id}", "gsi1sk": f"STOCK#{location_id}#{stock_id}"}


def stock_by_location(t: str, location_id: str, product_id: str, stock_id: str) -> dict[str, str]:
    return {"gsi2pk": f"T#{t}#LOCATION#{location_id}", "gsi2sk": f"STOCK#{product_id}#{stock_id}"}


def stock_type_partition(t: str, local: bool) -> str:
    """gsi3 partition of a tenant's stock records of one type (004 inventoryType: local = INTERN)."""
    return f"T#{t}#STOCKTYPE#{'local' if local else 'supplier'}"


def stock_by_type(t: str, local: bool, modified_at: datetime, stock_id: str) -> dict[str, str]:
    """gsi3 entry of a stock record: its type's partition, sorted by last modification (every change moves it)."""
    return {"gsi3pk": stock_type_partition(t, local), "gsi3sk": modified_sort(modified_at, stock_id)}


def modified_sort(modified_at: datetime, stock_id: str) -> str:
    return f"{stamp(modified_at)}#{stock_id}"


def movement(t: str, stock_id: str, movement_id: str) -> dict[str, str]:
    return {"pk": f"T#{t}#LEDGER#{stock_id}", "sk": movement_id}


def ledger_partition(t: str, stock_id: str) -> str:
    return f"T#{t}#LEDGER#{stock_id}"


def movement_by_time(t: str, occurred_at: datetime, movement_id: str) -> dict[str, str]:
    return {"gsi1pk": ledger_by_time_partition(t), "gsi1sk": f"{stamp(occurred_at)}#{movement_id}"}


def record_ledger(t: str, stock_id: str) -> str:
    return f"T#{t}#LEDGER#{stock_id}#BYTIME"


def record_movement_by_time(t: str, stock_id: str, occurred_at: datetime, movement_id: str) -> dict[str, str]:
    """gsi2 entry of a movement: one record's ledger in time order (asOf reads take a time range of it)."""
    return {"gsi2pk": record_ledger(t, stock_id), "gsi2sk": f"{stamp(occurred_at)}#{movement_id}"}


def snapshot(t: str, stock_id: str, at: datetime) -> dict[str, str]:
    """A stock record's figures at a moment (written by the reconciliation schedule)."""
    return {"pk": snapshots_partition(t, stock_id), "sk": stamp(at)}


def snapshots_partition(t: str, stock_id: str) -> str:
    return f"T#{t}#SNAP#{stock_id}"


# After every movement id of the snapshot's microsecond ("~" sorts after the characters of ids).
SNAPSHOT_MARK = "~SNAPSHOT"


def snapshot_by_time(t: str, stock_id: str, at: datetime) -> dict[str, str]:
    """gsi2 entry of a snapshot: in the record's time-ordered ledger, after the movements it covers, so one
    backward Query from a moment reads the movements since the latest snapshot and then the snapshot."""
    return {"gsi2pk": record_ledger(t, stock_id), "gsi2sk": f"{stamp(at)}#{SNAPSHOT_MARK}"}


def reservation(t: str, reservation_id: str) -> dict[str, str]:
    return {"pk": f"T#{t}#RESERVATION", "sk": reservation_id}


def hold(t: str, hold_id: str) -> dict[str, str]:
    return {"pk": f"T#{t}#HOLD", "sk": hold_id}


def claims_of_stock(t: str, stock_id: str) -> str:
    return f"T#{t}#STOCK#{stock_id}#CLAIMS"


def claim_by_stock(t: str, stock_id: str, kind: str, claim_id: str) -> dict[str, str]:
    return {"gsi1pk": claims_of_stock(t, stock_id), "gsi1sk": f"{kind}#{claim_id}"}


def expiring(t: str) -> str:
    return f"T#{t}#EXPIRING"


def expiring_claim(t: str, expires_at: datetime, reservation_id: str) -> dict[str, str]:
    return {"gsi3pk": expiring(t), "gsi3sk": f"{stamp(expires_at)}#{reservation_id}"}


def expiring_holds(t: str) -> str:
    return f"T#{t}#HOLDEXPIRY"


def expiring_hold(t: str, expires_at: datetime, hold_id: str) -> dict[str, str]:
    """gsi3 entry of an active hold with an expiresAt (removed when the hold is released)."""
    return {"gsi3pk": expiring_holds(t), "gsi3sk": f"{stamp(expires_at)}#{hold_id}"}


# -- lots, adjustment documents (001) -------------------------------------------------


def lot(t: str, lot_id: str) -> dict[str, str]:
    return {"pk": f"T#{t}#LOT", "sk": lot_id}


def lots_by_status(t: str, status: str, expiry: str, lot_id: str) -> dict[str, str]:
    """gsi1 entry of a lot: the company's lots by status, then expiry date (`-` when none)."""
    return {"gsi1pk": f"T#{t}#LOTS", "gsi1sk": f"{status}#{expiry}#{lot_id}"}


def lots_by_status_partition(t: str) -> str:
    return f"T#{t}#LOTS"


def lot_expiry_partition(t: str) -> str:
    return f"T#{t}#LOTEXPIRY"


def lot_expiry(t: str, expiry: str, lot_id: str) -> dict[str, str]:
    """gsi3 entry of an ACTIVE lot with an expiry date: the daily expiry job's index (removed once expired)."""
    return {"gsi3pk": lot_expiry_partition(t), "gsi3sk": f"{expiry}#{lot_id}"}


def adjustment(t: str, adjustment_id: str) -> dict[str, str]:
    return {"pk": f"T#{t}#ADJUSTMENT", "sk": adjustment_id}


def adjustments_partition(t: str, kind: str) -> str:
    return f"T#{t}#ADJUSTMENTS#{kind}"


def adjustment_by_time(t: str, kind: str, created_at: datetime, adjustment_id: str) -> dict[str, str]:
    """gsi1 entry of an adjustment document: the documents of one kind by time."""
    return {"gsi1pk": adjustments_partition(t, kind), "gsi1sk": f"{stamp(created_at)}#{adjustment_id}"}


def idempotency(t: str, key: str) -> dict[str, str]:
    return {"pk": f"T#{t}#IDEM", "sk": key}


def history(t: str, entity_type: str, entity_id: str, changed_at: datetime, event_id: str) -> dict[str, str]:
    return {"pk": history_partition(t, entity_type, entity_id), "sk": f"{stamp(changed_at)}#{event_id}"}


def history_partition(t: str, entity_type: str, entity_id: str) -> str:
    return f"T#{t}#{entity_type.upper()}#{entity_id}"


def reference(t: str, kind: str, ref_id: str) -> dict[str, str]:
    """A reference data item (000 types, materials, organisations, mill certifications, tags, tag rules)."""
    return {"pk": reference_partition(t, kind), "sk": ref_id}


def reference_partition(t: str, kind: str) -> str:
    return f"T#{t}#REF#{kind}"


# -- import jobs ---------------------------------------------------------------


def import_job(t: str, job_id: str) -> dict[str, str]:
    return {"pk": f"T#{t}#IMPORT", "sk": job_id}


def import_jobs_by_time(t: str, created_at: datetime, job_id: str) -> dict[str, str]:
    """Newest-first listing of a tenant's import jobs (gsi1, read backwards)."""
    return {"gsi1pk": f"T#{t}#IMPORTS", "gsi1sk": f"{stamp(created_at)}#{job_id}"}


def import_errors_partition(t: str, job_id: str) -> str:
    return f"T#{t}#IMPORT#{job_id}#ERRORS"


def import_errors(t: str, job_id: str, first_line: int) -> dict[str, str]:
    """The bad rows of one committed chunk, sorted by their first line."""
    return {"pk": import_errors_partition(t, job_id), "sk": f"{first_line:012d}"}


# -- orders (003) ----------------------------------------------------------------
# An order and its line items form one item collection, so reading an order
# with its lines is one Query. gsi1 lists the headers (`T#t#ORDERS`) and,
# for the exports, every line of the tenant (`T#t#ORDERLINES`) in the same order.


def order_partition(t: str, order_id: str) -> str:
    return f"T#{t}#ORDER#{order_id}"


def order(t: str, order_id: str) -> dict[str, str]:
    return {"pk": order_partition(t, order_id), "sk": "ORDER"}


def order_line(t: str, order_id: str, line_item_id: str) -> dict[str, str]:
    return {"pk": order_partition(t, order_id), "sk": f"LINE#{line_item_id}"}


def order_claims(t: str, order_id: str) -> dict[str, str]:
    """The order's reservation register: the ids of the reservations made for it, and a counter.

    In the order's partition, so the consistent Query that reads an order
    reads it too. No entity_type: the audit stream skips it.
    """
    return {"pk": order_partition(t, order_id), "sk": "CLAIMS"}


def orders_index(t: str) -> str:
    return f"T#{t}#ORDERS"


def order_listing_prefix(active: bool) -> str:
    return "A#" if active else "D#"


def order_listing(t: str, active: bool, created_at: datetime, order_id: str) -> dict[str, str]:
    """gsi1 entry of an order header: active orders under `A#`, deleted ones under `D#`, by creation time."""
    return {"gsi1pk": orders_index(t), "gsi1sk": f"{order_listing_prefix(active)}{stamp(created_at)}#{order_id}"}


def order_lines_index(t: str) -> str:
    return f"T#{t}#ORDERLINES"


# Line numbers are written inverted in a line's gsi1sk, so that the one
# newest-first read of the orders gives each order's lines in ascending order.
LINE_RANK_TOP = 999_999


def order_line_listing(
    t: str, active: bool, order_created_at: datetime, order_id: str, line_number: int
) -> dict[str, str]:
    """gsi1 entry of a line item: its order's listing key (`A#` only while both are active) + inverted number.

    Read newest first, as the orders are, the lines come grouped by order in
    the orders' order, and by ascending line number within an order. Numbers
    above LINE_RANK_TOP share the last rank (such lines are still listed).
    """
    rank = max(0, LINE_RANK_TOP - line_number)
    sort_key = f"{order_listing_prefix(active)}{stamp(order_created_at)}#{order_id}#{rank:06d}"
    return {"gsi1pk": order_lines_index(t), "gsi1sk": sort_key}


def order_reference(t: str, reference: str) -> dict[str, str]:
    """Guard that keeps an orderReference unique among a tenant's active orders (any case)."""
    return unique(t, "ORDERREF", reference.strip().casefold())


def claims_of_order(t: str, order_id: str) -> str:
    return f"T#{t}#ORDER#{order_id}#CLAIMS"


def claim_by_order(t: str, order_id: str, reservation_id: str) -> dict[str, str]:
    """gsi2 entry of a reservation made for an order: the order's reservations without a Scan."""
    return {"gsi2pk": claims_of_order(t, order_id), "gsi2sk": f"RES#{reservation_id}"}


# -- listings in creation order and their counters (002 limit/offset pages) -------
# A listed entity carries index keys `<index>pk = T#t#LIST#<collection>`,
# `<index>sk = <created stamp>#<id>` (or a zero-padded sequence number) while it
# is active; a soft delete drops them. The collection's counter item carries the
# same index partition with the sort key COUNT_SORT, which sorts before every
# entry, so the first page of a list reads its totalCount in the same Query.

COUNT_SORT = "#COUNT"


def listing_partition(t: str, collection: str) -> str:
    return f"T#{t}#LIST#{collection}"


def listing(t: str, collection: str, sort: str, index: str = "gsi3") -> dict[str, str]:
    return {f"{index}pk": listing_partition(t, collection), f"{index}sk": sort}


def created_sort(created_at: datetime, entity_id: str) -> str:
    return f"{stamp(created_at)}#{entity_id}"


def sequence_sort(number: int) -> str:
    return f"{number:012d}"


def counter(t: str, name: str) -> dict[str, str]:
    """A maintained count (`item_count`), updated in the same transaction as the items it counts."""
    return {"pk": f"T#{t}#COUNT", "sk": name}


def job_cursor(t: str, job: str) -> dict[str, str]:
    """Where a resumable job (the backfill) stands for one company, between its invocations."""
    return {"pk": f"T#{t}#JOBCURSOR", "sk": job}


def sequence(t: str, name: str) -> dict[str, str]:
    """A number source (`last`): task order, batch ids, custom status ids."""
    return {"pk": f"T#{t}#SEQ", "sk": name}


# -- people of a company, production (002) -----------------------------------------


def user(t: str, user_id: str) -> dict[str, str]:
    return {"pk": f"T#{t}#USER", "sk": user_id}


def task(t: str, task_id: str) -> dict[str, str]:
    return {"pk": f"T#{t}#TASK", "sk": task_id}


def batch(t: str, batch_id: int) -> dict[str, str]:
    return {"pk": f"T#{t}#BATCH", "sk": sequence_sort(batch_id)}


def custom_status(t: str, status_id: int) -> dict[str, str]:
    return {"pk": f"T#{t}#CUSTOMSTATUS", "sk": sequence_sort(status_id)}


def resource_use(t: str, resource_id: str, task_id: str) -> dict[str, str]:
    """A task's use of a product or material: what refuses deleting one an open task needs."""
    return {"pk": f"T#{t}#USES#{resource_id}", "sk": task_id}


def resource_uses_partition(t: str, resource_id: str) -> str:
    return f"T#{t}#USES#{resource_id}"


# -- channels and availability records (001) ---------------------------------------


def channel(t: str, channel_id: str) -> dict[str, str]:
    return {"pk": channels_partition(t), "sk": channel_id}


def channels_partition(t: str) -> str:
    return f"T#{t}#CHANNEL"


def channel_code(t: str, code: str) -> dict[str, str]:
    """Guard that keeps a channel code unique per tenant (any case)."""
    return unique(t, "CHANNEL", code.strip().casefold())


def allocation(t: str, product_id: str, location_id: str) -> dict[str, str]:
    """A product's availability record at a location; sorted by location, so one location is a prefix."""
    return {"pk": allocations_partition(t), "sk": f"{location_id}#{product_id}"}


def allocations_partition(t: str) -> str:
    return f"T#{t}#ALLOC"


def allocation_by_product(t: str, product_id: str, location_id: str) -> dict[str, str]:
    """gsi1 entry: a product's availability records at every location."""
    return {"gsi1pk": allocations_of_product(t, product_id), "gsi1sk": location_id}


def allocations_of_product(t: str, product_id: str) -> str:
    return f"T#{t}#ALLOC#{product_id}"


def ledger_by_time_partition(t: str) -> str:
    """gsi1 partition of the tenant's ledger in time order (`movement_by_time`)."""
    return f"T#{t}#LEDGER"


# -- 001 work items (issue 16): cycle counts, put-away tasks, transfers, replenishment, stock requests


def work_item(t: str, kind: str, item_id: str) -> dict[str, str]:
    """A work item of `kind` (CYCLECOUNT, PUTAWAY, TRANSFER, REPLENISHMENT, REPLCONFIG, STOCKREQUEST)."""
    return {"pk": f"T#{t}#{kind}", "sk": item_id}


def work_items_partition(t: str, kind: str) -> str:
    return f"T#{t}#{kind}"


def open_replenishment_guard(t: str, product_id: str, location_id: str) -> dict[str, str]:
    """At most one open replenishment record per (product, location): its id is here while it is open."""
    return {"pk": f"T#{t}#UNIQUE", "sk": f"OPENREPL#{product_id}#{location_id}"}


# -- domain events and webhooks ------------------------------------------------------
# Events and deliveries live in the events table (not streamed; `expires_at` TTL);
# webhooks in the main table.


def events_partition(t: str) -> str:
    return f"T#{t}#EVENTS"


def event(t: str, occurred_at: datetime, event_id: str) -> dict[str, str]:
    return {"pk": events_partition(t), "sk": f"{stamp(occurred_at)}#{event_id}"}


def webhook(t: str, webhook_id: str) -> dict[str, str]:
    return {"pk": webhooks_partition(t), "sk": webhook_id}


def webhooks_partition(t: str) -> str:
    return f"T#{t}#WEBHOOK"


def deliveries_partition(t: str, webhook_id: str) -> str:
    return f"T#{t}#WEBHOOK#{webhook_id}#DELIVERY"


def delivery(t: str, webhook_id: str, delivery_id: str) -> dict[str, str]:
    """Delivery ids start with the event's time, so the partition lists them oldest first."""
    return {"pk": deliveries_partition(t, webhook_id), "sk": delivery_id}
