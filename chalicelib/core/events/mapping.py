"""Stream records -> domain events, by declared mapping rows.

One home for every event type. A stream record carries the item's
`entity_type` and its old and new images; a row of `RULES` says which events
an entity type produces (on insert, on a status change, on another change,
on removal) and which fields go into `data`. A new entity type (a transfer, a
stock request) gets its events by a new row, not by new code.

Stock records are the one special row: `stock.changed` compares the figures
(on hand, reserved, held, available) of the old and new images and names the
ledger movement that the same transaction wrote (`last_movement`, set by the
stock store on the record); `threshold.crossed` is decided afterwards from
the location totals (`threshold_events`), because it needs the product's
minimum level and the other records of the product at that location.

Ids are stable: a hash of the tenant, entity, its version (or the stream
record's eventID when the item has none) and the event type, so a
redelivered stream record produces the same ids and overwrites, never
duplicates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import Field

from chalicelib.core.models import Model

FIGURES = ("on_hand", "reserved", "held", "available")
FIGURE_NAMES = {"on_hand": "onHand", "reserved": "reserved", "held": "held", "available": "available"}
# Items the stream carries whose entity_type holds a stock balance.
STOCK_ENTITY = "stock"
# How long a company's events are kept (the store's TTL).
EVENT_DAYS = 30


class DomainEvent(Model):
    """One event of a company: what the API lists and webhooks deliver."""

    event_id: str
    type: str
    occurred_at: datetime
    tenant_id: str
    data: dict[str, Any] = Field(default_factory=dict)
    # Indexing aids: the product it concerns (the productId filter, per-product delivery order).
    product_id: str | None = None

    def public(self) -> dict[str, Any]:
        """The documented shape: id, type, occurredAt, companyId, data."""
        return {
            "id": self.event_id,
            "type": self.type,
            "occurredAt": _iso(self.occurred_at),
            "companyId": self.tenant_id,
            "data": self.data,
        }


@dataclass(frozen=True)
class StreamChange:
    """One stream record, images already plain Python values."""

    event_id: str
    event_name: str  # INSERT, MODIFY, REMOVE
    approximate_at: datetime
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None


@dataclass(frozen=True)
class Rule:
    """What one entity type's changes mean as events.

    `prefix` names the events (`reservation` -> `reservation.created`).
    `on_insert`, `on_modify`, `on_remove` are suffixes (None: no event);
    a change of `status_field` gives `<prefix>.<status_events[new status]>`
    (or `<prefix>.<new status>` when `status_events` is None: every status).
    A change of `active` to False counts as a removal (soft delete).
    `fields` are copied into `data` (core name -> documented name).
    """

    entity_type: str
    prefix: str
    on_insert: str | None = "created"
    on_modify: str | None = None
    on_remove: str | None = None
    status_field: str | None = "status"
    status_events: Mapping[str, str] | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    product_field: str | None = "product_id"


_CLAIM_FIELDS = {
    "stock_id": "stockId",
    "product_id": "productId",
    "location_id": "locationId",
    "quantity": "quantity",
    "status": "status",
}

RULES: tuple[Rule, ...] = (
    Rule(
        "reservation",
        "reservation",
        status_events={"released": "released", "expired": "expired", "fulfilled": "fulfilled"},
        fields={
            **_CLAIM_FIELDS,
            "reservation_id": "reservationId",
            "reference": "reference",
            "expires_at": "expiresAt",
        },
    ),
    Rule(
        "hold",
        "hold",
        status_events={"released": "released"},
        fields={**_CLAIM_FIELDS, "hold_id": "holdId", "reason": "reason"},
    ),
    # Import jobs carry no entity_type (the audit trail skips them); the stream
    # handler names them `import_job` from their key (see `entity_type_of`).
    Rule(
        "import_job",
        "import",
        on_insert=None,
        status_events={"completed": "completed", "failed": "failed"},
        fields={"job_id": "jobId", "kind": "kind", "status": "status", "total": "total", "message": "message"},
        product_field=None,
    ),
    Rule(
        "order",
        "order",
        on_modify="updated",
        on_remove="deleted",
        status_events=None,
        fields={"order_id": "orderId", "order_reference": "orderReference", "status": "status", "quantity": "quantity"},
        product_field=None,
    ),
    # Branch wh2 stores transfers as entity_type "transfer"; stock requests are assumed "stock_request".
    Rule(
        "transfer",
        "transfer",
        on_modify="updated",
        on_remove="deleted",
        status_events=None,
        fields={"transfer_id": "transferId", "status": "status", "lines": "lines"},
        product_field=None,
    ),
    Rule(
        "stock_request",
        "stock_request",
        on_modify="updated",
        on_remove="deleted",
        status_events=None,
        fields={"stock_request_id": "stockRequestId", "status": "status", "lines": "lines"},
        product_field=None,
    ),
)
RULES_BY_ENTITY: dict[str, Rule] = {r.entity_type: r for r in RULES}

# Every type an event can have, for validating webhook subscriptions and the ?type filter.
EVENT_TYPES: frozenset[str] = frozenset(
    {
        "stock.changed",
        "threshold.crossed",
        "reservation.created",
        "reservation.released",
        "reservation.expired",
        "reservation.fulfilled",
        "hold.created",
        "hold.released",
        "import.completed",
        "import.failed",
        "order.created",
        "order.updated",
        "order.deleted",
        "transfer.created",
        "transfer.updated",
        "transfer.deleted",
        "stock_request.created",
        "stock_request.updated",
        "stock_request.deleted",
        "ledger.mismatch",
        "webhook.test",
    }
)
# Open-ended status events (order.<status>, transfer.<status>) match these prefixes.
STATUS_PREFIXES = ("order.", "transfer.", "stock_request.")


def known_type(name: str) -> bool:
    """True for a type some event can have: a listed one, or a status event of an open-ended row."""
    return name in EVENT_TYPES or (name.startswith(STATUS_PREFIXES) and len(name.split(".", 1)[1]) > 0)


def event_id(tenant_id: str, entity_type: str, entity_id: str, version: str, event_type: str) -> str:
    digest = hashlib.sha256(f"{tenant_id}|{entity_type}|{entity_id}|{version}|{event_type}".encode()).hexdigest()
    return f"evt_{digest[:32]}"


def entity_type_of(item: Mapping[str, Any]) -> str | None:
    """The item's entity type; import jobs (no entity_type) are known by their key."""
    found = item.get("entity_type")
    if found:
        return str(found)
    pk = str(item.get("pk") or "")
    if pk.endswith("#IMPORT") and item.get("job_id"):
        return "import_job"
    return None


def events_of(change: StreamChange) -> list[DomainEvent]:
    """The domain events of one stream record (often none)."""
    item = (change.old if change.event_name == "REMOVE" else change.new) or {}
    entity_type = entity_type_of(item)
    if entity_type is None or not item.get("tenant_id"):
        return []
    if entity_type == STOCK_ENTITY:
        found = stock_changed(change, item)
        return [found] if found else []
    rule = RULES_BY_ENTITY.get(entity_type)
    if rule is None:
        return []
    suffix = _suffix(rule, change)
    if suffix is None:
        return []
    event_type = f"{rule.prefix}.{suffix}"
    version = str(item.get("version") or change.event_id)
    if change.event_name == "REMOVE":
        version = f"removed-{change.event_id}"
    entity_id = str(item.get("entity_id") or item.get("job_id") or item.get("sk") or "")
    data = {name: _plain(item.get(core)) for core, name in rule.fields.items() if core in item}
    product_id = str(item[rule.product_field]) if rule.product_field and item.get(rule.product_field) else None
    return [
        DomainEvent(
            event_id=event_id(str(item["tenant_id"]), entity_type, entity_id, version, event_type),
            type=event_type,
            occurred_at=_occurred(item, change),
            tenant_id=str(item["tenant_id"]),
            data=data,
            product_id=product_id,
        )
    ]


def _suffix(rule: Rule, change: StreamChange) -> str | None:
    old, new = change.old or {}, change.new or {}
    if change.event_name == "INSERT":
        return rule.on_insert
    if change.event_name == "REMOVE":
        return rule.on_remove
    if old.get("active", True) is True and new.get("active", True) is False:
        return rule.on_remove
    if rule.status_field and old.get(rule.status_field) != new.get(rule.status_field):
        status = str(new.get(rule.status_field))
        if rule.status_events is None:
            return status
        return rule.status_events.get(status)
    if rule.on_modify and _business_change(old, new):
        return rule.on_modify
    return None


_NOT_BUSINESS = ("version", "updated_at", "changed_at", "changed_by_id", "changed_by_name")


def _business_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    names = (old.keys() | new.keys()) - set(_NOT_BUSINESS)
    return any(old.get(n) != new.get(n) for n in names if not n.startswith("gsi"))


def figures(image: Mapping[str, Any] | None) -> dict[str, Decimal]:
    image = image or {}
    return {FIGURE_NAMES[f]: Decimal(str(image.get(f) or 0)) for f in FIGURES}


def stock_changed(change: StreamChange, item: Mapping[str, Any]) -> DomainEvent | None:
    """`stock.changed` when a stock record's figures differ between the images (a new record counts)."""
    if change.event_name == "REMOVE":
        return None
    before = figures(change.old if change.event_name == "MODIFY" else None)
    after = figures(change.new)
    if before == after and change.event_name == "MODIFY":
        return None
    movement = item.get("last_movement") if change.event_name == "INSERT" or _moved(change) else None
    tenant_id = str(item["tenant_id"])
    stock_id = str(item.get("stock_id") or item.get("entity_id"))
    version = str(item.get("version") or change.event_id)
    data: dict[str, Any] = {
        "stockId": stock_id,
        "productId": item.get("product_id"),
        "locationId": item.get("location_id"),
        "binId": item.get("bin_id"),
        "lotId": item.get("lot_id"),
        "owner": item.get("owner"),
        "before": before,
        "after": after,
        "movement": _movement(movement),
        "actor": {"id": item.get("changed_by_id"), "name": item.get("changed_by_name")},
    }
    return DomainEvent(
        event_id=event_id(tenant_id, STOCK_ENTITY, stock_id, version, "stock.changed"),
        type="stock.changed",
        occurred_at=_occurred(item, change),
        tenant_id=tenant_id,
        data=data,
        product_id=str(item["product_id"]) if item.get("product_id") else None,
    )


def _moved(change: StreamChange) -> bool:
    """The update wrote a movement: last_movement is new in this image (not left from an earlier one)."""
    old = (change.old or {}).get("last_movement") or {}
    new = (change.new or {}).get("last_movement") or {}
    return bool(new) and old.get("id") != new.get("id")


def _movement(movement: Any) -> dict[str, Any] | None:
    if not isinstance(movement, Mapping):
        return None
    return {
        "id": movement.get("id"),
        "kind": movement.get("kind"),
        "quantity": movement.get("quantity"),
        "reason": movement.get("reason"),
        "reference": movement.get("reference"),
    }


# -- threshold.crossed -----------------------------------------------------------


@dataclass(frozen=True)
class LevelKey:
    tenant_id: str
    product_id: str
    location_id: str


def level_key(event: DomainEvent) -> LevelKey | None:
    if event.type != "stock.changed" or not event.product_id or not event.data.get("locationId"):
        return None
    return LevelKey(event.tenant_id, event.product_id, str(event.data["locationId"]))


def threshold_events(
    changes: Sequence[DomainEvent], totals_now: Mapping[LevelKey, Decimal], min_levels: Mapping[LevelKey, Decimal]
) -> list[DomainEvent]:
    """`threshold.crossed` for each stock change that moved a location's available total across the minimum.

    `totals_now` is the available total of each (product, location) as read
    after the batch; walking the batch's changes backwards from it gives the
    total before and after each one (a write after the read is the next
    batch's business). Crossing downwards (total falls below min) is
    `direction: below`; back to min or above is `direction: above`.
    """
    found: list[DomainEvent] = []
    by_key: dict[LevelKey, list[DomainEvent]] = {}
    for event in changes:
        key = level_key(event)
        if key is not None and key in min_levels:
            by_key.setdefault(key, []).append(event)
    for key, events in by_key.items():
        minimum = min_levels[key]
        total_after = totals_now.get(key, Decimal(0))
        crossings: list[DomainEvent] = []
        for event in reversed(events):
            delta = event.data["after"]["available"] - event.data["before"]["available"]
            total_before = total_after - delta
            direction = None
            if total_before >= minimum > total_after:
                direction = "below"
            elif total_before < minimum <= total_after:
                direction = "above"
            if direction:
                crossings.append(
                    DomainEvent(
                        event_id=f"thr_{event.event_id.removeprefix('evt_')}",
                        type="threshold.crossed",
                        occurred_at=event.occurred_at,
                        tenant_id=event.tenant_id,
                        product_id=key.product_id,
                        data={
                            "productId": key.product_id,
                            "locationId": key.location_id,
                            "minLevel": minimum,
                            "measure": "available",
                            "before": total_before,
                            "after": total_after,
                            "direction": direction,
                            "cause": event.event_id,
                        },
                    )
                )
            total_after = total_before
        found.extend(reversed(crossings))
    return found


# -- helpers ------------------------------------------------------------------------


def _occurred(item: Mapping[str, Any], change: StreamChange) -> datetime:
    stamp = item.get("changed_at") or item.get("updated_at")
    if isinstance(stamp, str):
        try:
            parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return change.approximate_at


def _plain(value: Any) -> Any:
    if isinstance(value, set):
        return sorted(value)
    return value


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
