"""The audit trail: field-level history derived from the table stream.

`change_event` turns one stream record (its old and new images, already plain
Python values) into a HistoryEvent. It needs no model of the entity: every
item the storage layer writes names its type, id, label and last writer, and
everything else on it is a business field.

`HistoryService` reads the trail back, one entity at a time, an entity with
the entities stored in its timeline (an order and its lines), or several
entities interleaved into one timeline.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from chalicelib.core.models import SYSTEM, FieldChange, HistoryEvent

CHANGE_TYPES = ("INSERT", "MODIFY", "REMOVE")

# Keys and bookkeeping that every item carries: they describe the write, not
# the entity, so they never show up as a changed field.
BOOKKEEPING = frozenset(
    {
        "pk",
        "sk",
        "version",
        "created_at",
        "updated_at",
        "changed_at",
        "changed_by_id",
        "changed_by_name",
        "entity_type",
        "entity_id",
        "entity_label",
        "parent_type",
        "parent_id",
        "tenant_id",
        # The stock store's note of the movement an update wrote (for stock.changed events).
        "last_movement",
    }
)

# Secrets, even hashed, never enter the audit trail, which users can read.
HIDDEN = frozenset({"key_hash", "secret_hash", "signing_secret"})

# Uniqueness guards are plumbing, and the ledger is append-only: each
# movement already is its own history, so copying it again adds nothing.
# productStock: a product's stock keys (storage keys.product_stock), an index of its records, not an entity.
SKIPPED_ENTITY_TYPES = frozenset({"guard", "movement", "productStock"})


# The smallest step the stored time format shows (keys.stamp keeps microseconds).
AFTER = timedelta(microseconds=1)


class BadRecord(ValueError):
    """A stream record that cannot become a history event (bad or missing data)."""


class HistoryStore(Protocol):
    def put_events(self, events: Iterable[HistoryEvent]) -> None: ...
    def events_for(self, tenant_id: str, entity_type: str, entity_id: str) -> list[HistoryEvent]: ...
    def timeline(self, tenant_id: str, entity_type: str, entity_id: str) -> list[HistoryEvent]: ...


def is_business_field(name: str) -> bool:
    return name not in BOOKKEEPING and name not in HIDDEN and not name.startswith("gsi")


def same_value(a: Any, b: Any) -> bool:
    """Equality by value, nested, without Python's `True == 1` blur.

    A boolean that becomes the number 1 is a change worth recording.
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping | list | tuple) or isinstance(b, Mapping | list | tuple):
        return False
    return bool(a == b)


def field_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FieldChange]:
    """Every business field whose value differs, sorted by name; a missing field is None."""
    names = sorted(n for n in old.keys() | new.keys() if is_business_field(n))
    return [
        FieldChange(field=name, old=old.get(name), new=new.get(name))
        for name in names
        if not same_value(old.get(name), new.get(name))
    ]


def change_event(
    *,
    event_id: str,
    event_name: str,
    approximate_at: datetime,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
) -> HistoryEvent | None:
    """The history event of one stream record, or None when there is nothing to record.

    Everything in the event comes from the record itself (never from the
    clock), so a redelivered record yields the same event with the same key.
    Raises BadRecord when the record cannot be described.
    """
    if event_name not in CHANGE_TYPES:
        raise BadRecord(f"unknown stream event name {event_name!r}")
    old = old or {}
    new = new or {}
    # The image that describes the entity: the item as it now is, or as it was
    # just before it was removed.
    item = old if event_name == "REMOVE" else new
    if not item:
        raise BadRecord(f"{event_name} record {event_id} has no {'old' if event_name == 'REMOVE' else 'new'} image")
    entity_type = item.get("entity_type")
    if not entity_type or entity_type in SKIPPED_ENTITY_TYPES:
        return None
    changes = field_changes({} if event_name == "INSERT" else old, {} if event_name == "REMOVE" else new)
    if event_name == "MODIFY" and not changes:
        return None
    for change in changes:
        if not (_finite(change.old) and _finite(change.new)):
            raise BadRecord(f"record {event_id} holds a number that is not finite in {change.field!r}")
    parent_type, parent_id = item.get("parent_type"), item.get("parent_id")
    return HistoryEvent(
        tenant_id=_required(item, "tenant_id", event_id),
        event_id=event_id,
        changed_at=_changed_at(item, event_name, approximate_at, event_id),
        changed_by_id=str(item.get("changed_by_id") or SYSTEM.id),
        changed_by_name=str(item.get("changed_by_name") or SYSTEM.name),
        change_type=event_name,
        entity_type=str(entity_type),
        entity_id=_required(item, "entity_id", event_id),
        entity_label=_label(item.get("entity_label")),
        changes=changes,
        parent_type=str(parent_type) if parent_type and parent_id else None,
        parent_id=str(parent_id) if parent_type and parent_id else None,
    )


def _finite(value: Any) -> bool:
    """False for NaN or infinity anywhere in a value: no store can keep them."""
    if isinstance(value, Decimal):
        return value.is_finite()
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, Mapping):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return all(_finite(v) for v in value)
    return True


def _required(item: Mapping[str, Any], name: str, event_id: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value:
        raise BadRecord(f"record {event_id} has no {name}")
    return value


def _label(value: Any) -> str | None:
    return None if value is None else str(value)


def _changed_at(item: Mapping[str, Any], event_name: str, approximate_at: datetime, event_id: str) -> datetime:
    stamped = _stamped_at(item, event_id)
    if event_name != "REMOVE" and stamped is not None:
        return stamped
    # A removal is not stamped on the item (it is gone), so the stream's own
    # time is the witness; so it is for an item no writer stamped. The stream
    # rounds it down to the second, which can put a removal before the last
    # write it follows; it is moved to just after that write instead.
    approximate = _utc(approximate_at)
    if stamped is not None and approximate <= stamped:
        return stamped + AFTER
    return approximate


def _stamped_at(item: Mapping[str, Any], event_id: str) -> datetime | None:
    stamped = item.get("changed_at")
    if stamped is None:
        return None
    try:
        return _utc(datetime.fromisoformat(str(stamped)))
    except ValueError:
        raise BadRecord(f"record {event_id} has an unreadable changed_at {stamped!r}") from None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class HistoryService:
    def __init__(self, store: HistoryStore) -> None:
        self._store = store

    def record(self, events: Iterable[HistoryEvent]) -> None:
        """Store events; writing one again (same entity, time and event id) replaces it."""
        self._store.put_events(events)

    def events_for(self, tenant_id: str, entity_type: str, entity_id: str) -> list[HistoryEvent]:
        """One entity's events, oldest first."""
        return self._store.events_for(tenant_id, entity_type, entity_id)

    def timeline(self, tenant_id: str, entity_type: str, entity_id: str) -> list[HistoryEvent]:
        """An entity's events and those of the entities that name it as their parent (an order's lines),
        in one timeline, oldest first: one read, since they are stored together."""
        return self._store.timeline(tenant_id, entity_type, entity_id)

    def interleaved(self, tenant_id: str, entities: list[tuple[str, str]]) -> list[HistoryEvent]:
        """Several entities' events merged into one timeline, oldest first.

        Each entity's list is already in time order, so a k-way merge is
        enough. heapq.merge is stable: events at the same instant keep the
        order in which their entities were asked for.
        """
        wanted = list(dict.fromkeys(entities))
        timelines = [self._store.events_for(tenant_id, entity_type, entity_id) for entity_type, entity_id in wanted]
        return list(heapq.merge(*timelines, key=lambda event: event.changed_at))


def documented_change_type(event: HistoryEvent) -> str:
    """The change as the documents name it: CREATE, UPDATE, DELETE / RESTORE (active flipped) or REMOVE."""
    if event.change_type == "INSERT":
        return "CREATE"
    if event.change_type == "REMOVE":
        return "REMOVE"
    active = next((c for c in event.changes if c.field == "active"), None)
    if active is not None and active.old is True and active.new is False:
        return "DELETE"
    if active is not None and active.old is False and active.new is True:
        return "RESTORE"
    return "UPDATE"
