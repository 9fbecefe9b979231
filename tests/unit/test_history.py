"""The audit diff and the history query service, with no AWS at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.core.history.service import BadRecord, HistoryService, change_event, field_changes, same_value
from chalicelib.core.models import FieldChange, HistoryEvent
from tests.fakes import InMemoryHistoryStore

pytestmark = pytest.mark.disable_socket

STREAM_TIME = datetime(2026, 11, 23, 12, 0, 5, tzinfo=UTC)


def stock_item(**overrides: Any) -> dict[str, Any]:
    """A stock item as the storage layer writes it, deserialised (numbers are Decimal)."""
    item: dict[str, Any] = {
        "pk": "T#t1#STOCK",
        "sk": "s1",
        "gsi1pk": "T#t1#PRODUCT#p1",
        "gsi1sk": "STOCK#l1#s1",
        "gsi2pk": "T#t1#LOCATION#l1",
        "gsi2sk": "STOCK#p1#s1",
        "tenant_id": "t1",
        "entity_type": "stock",
        "entity_id": "s1",
        "entity_label": "Row A",
        "changed_by_id": "u-1",
        "changed_by_name": "Alice",
        "changed_at": "2026-11-23T12:00:00.123456Z",
        "created_at": "2026-11-23T11:00:00.000000Z",
        "updated_at": "2026-11-23T12:00:00.123456Z",
        "version": Decimal(1),
        "stock_id": "s1",
        "product_id": "p1",
        "location_id": "l1",
        "on_hand": Decimal(10),
        "reserved": Decimal(0),
        "available": Decimal(10),
        "attributes": {"heat_code": "H1", "dims": [Decimal(1), Decimal("2.5")]},
        "active": True,
    }
    item.update(overrides)
    return item


def event(
    name: str, old: dict[str, Any] | None, new: dict[str, Any] | None, event_id: str = "e1"
) -> HistoryEvent | None:
    return change_event(event_id=event_id, event_name=name, approximate_at=STREAM_TIME, old=old, new=new)


def changed(result: HistoryEvent | None) -> dict[str, tuple[Any, Any]]:
    assert result is not None
    return {c.field: (c.old, c.new) for c in result.changes}


# -- INSERT / MODIFY / REMOVE ---------------------------------------------------


def test_insert_lists_every_business_field_with_no_old_value() -> None:
    new = stock_item()

    result = event("INSERT", None, new)

    assert result is not None
    assert result.change_type == "INSERT"
    assert (result.tenant_id, result.entity_type, result.entity_id, result.entity_label) == (
        "t1",
        "stock",
        "s1",
        "Row A",
    )
    assert (result.changed_by_id, result.changed_by_name) == ("u-1", "Alice")
    assert result.changed_at == datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=UTC)
    assert [c.field for c in result.changes] == sorted(
        ["stock_id", "product_id", "location_id", "on_hand", "reserved", "available", "attributes", "active"]
    )
    assert all(c.old is None for c in result.changes)
    assert changed(result)["on_hand"] == (None, Decimal(10))


def test_modify_reports_only_the_fields_that_changed_with_old_and_new_values() -> None:
    old = stock_item()
    new = stock_item(
        on_hand=Decimal(7),
        available=Decimal(7),
        version=Decimal(2),
        changed_at="2026-11-23T12:01:00.000000Z",
        updated_at="2026-11-23T12:01:00.000000Z",
        changed_by_id="u-2",
        changed_by_name="Bob",
    )

    result = event("MODIFY", old, new)

    assert result is not None
    assert result.change_type == "MODIFY"
    assert result.changes == [
        FieldChange(field="available", old=Decimal(10), new=Decimal(7)),
        FieldChange(field="on_hand", old=Decimal(10), new=Decimal(7)),
    ]
    assert (result.changed_by_id, result.changed_by_name) == ("u-2", "Bob")
    assert result.changed_at == datetime(2026, 11, 23, 12, 1, tzinfo=UTC)


def test_values_are_reported_as_stored() -> None:
    result = event("MODIFY", stock_item(), stock_item(on_hand=Decimal("7.50"), available=Decimal("7.5")))

    on_hand = changed(result)["on_hand"][1]
    assert isinstance(on_hand, Decimal)
    assert str(on_hand) == "7.50"


def test_a_field_removed_or_added_by_a_modify_has_none_on_the_missing_side() -> None:
    old = stock_item(bin_id="b1")
    new = stock_item(name="Order 42")

    assert changed(event("MODIFY", old, new)) == {"bin_id": ("b1", None), "name": (None, "Order 42")}


def test_remove_uses_the_old_image_and_the_stream_time() -> None:
    old = stock_item()

    result = event("REMOVE", old, None)

    assert result is not None
    assert result.change_type == "REMOVE"
    assert result.changed_at == STREAM_TIME
    assert (result.changed_by_id, result.changed_by_name, result.entity_id) == ("u-1", "Alice", "s1")
    assert changed(result)["on_hand"] == (Decimal(10), None)
    assert all(c.new is None for c in result.changes)


def test_a_removal_never_sorts_before_the_last_write_it_follows() -> None:
    # The stream's time is rounded down to the second; the last write was later in that second.
    old = stock_item(changed_at="2026-11-23T12:00:05.700000Z")

    result = event("REMOVE", old, None)

    assert result is not None
    assert result.changed_at == datetime(2026, 11, 23, 12, 0, 5, 700001, tzinfo=UTC)


def test_keys_and_bookkeeping_never_appear_as_changes() -> None:
    old = stock_item()
    new = stock_item(
        gsi3pk="T#t1#EXPIRING",
        gsi3sk="x",
        version=Decimal(5),
        entity_label="Row B",
        updated_at="2026-11-24T00:00:00.000000Z",
        on_hand=Decimal(11),
        available=Decimal(11),
    )

    assert set(changed(event("MODIFY", old, new))) == {"on_hand", "available"}


def test_a_modify_that_changes_no_business_field_yields_nothing() -> None:
    old = stock_item()
    new = stock_item(version=Decimal(2), changed_at="2026-11-23T13:00:00.000000Z", changed_by_id="u-9")

    assert event("MODIFY", old, new) is None


# -- what is skipped, what is refused -------------------------------------------


@pytest.mark.parametrize("entity_type", ["guard", "movement", None, ""])
def test_guards_movements_and_untyped_items_are_skipped(entity_type: str | None) -> None:
    item = stock_item(entity_type=entity_type)

    assert event("INSERT", None, item) is None
    assert event("MODIFY", stock_item(entity_type=entity_type, on_hand=Decimal(1)), item) is None
    assert event("REMOVE", item, None) is None


def test_an_item_without_an_entity_type_key_is_skipped() -> None:
    item = stock_item()
    del item["entity_type"]

    assert event("INSERT", None, item) is None


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("UPSERT", None, stock_item()),
        ("INSERT", None, None),
        ("REMOVE", None, stock_item()),
        ("INSERT", None, stock_item(tenant_id=None)),
        ("INSERT", None, stock_item(entity_id="")),
        ("INSERT", None, stock_item(changed_at="yesterday")),
        ("MODIFY", stock_item(), stock_item(on_hand=Decimal("NaN"))),
        ("INSERT", None, stock_item(attributes={"weight": [Decimal("Infinity")]})),
    ],
    ids=[
        "unknown-event",
        "no-new-image",
        "remove-without-old",
        "no-tenant",
        "no-entity-id",
        "bad-time",
        "nan",
        "nested-infinity",
    ],
)
def test_records_that_cannot_be_described_are_refused(
    name: str, old: dict[str, Any] | None, new: dict[str, Any] | None
) -> None:
    with pytest.raises(BadRecord):
        event(name, old, new)


# -- actor and time fallbacks ----------------------------------------------------


def test_the_actor_falls_back_to_the_system() -> None:
    new = stock_item()
    del new["changed_by_id"]
    del new["changed_by_name"]

    result = event("INSERT", None, new)

    assert result is not None
    assert (result.changed_by_id, result.changed_by_name) == ("system", "Stockroom")


def test_an_item_no_writer_stamped_takes_the_stream_time() -> None:
    new = stock_item()
    del new["changed_at"]

    result = event("INSERT", None, new)

    assert result is not None
    assert result.changed_at == STREAM_TIME


def test_the_same_record_always_gives_the_same_event() -> None:
    # Redelivery safety rests on this: nothing in the event comes from the clock.
    old, new = stock_item(), stock_item(on_hand=Decimal(3), available=Decimal(3))

    assert event("MODIFY", old, new) == event("MODIFY", old, new)


# -- nested values ---------------------------------------------------------------


def test_nested_maps_and_lists_compare_by_value() -> None:
    old = stock_item(attributes={"dims": [Decimal(1), {"w": Decimal(2)}], "heat_code": "H1"})
    same = stock_item(attributes={"heat_code": "H1", "dims": [Decimal("1.0"), {"w": Decimal(2)}]}, version=Decimal(2))
    deeper = stock_item(attributes={"heat_code": "H1", "dims": [Decimal(1), {"w": Decimal(3)}]})

    assert event("MODIFY", old, same) is None
    assert changed(event("MODIFY", old, deeper)) == {
        "attributes": (old["attributes"], {"heat_code": "H1", "dims": [Decimal(1), {"w": Decimal(3)}]})
    }


def test_list_order_matters() -> None:
    old = stock_item(attributes={"tags": ["a", "b"]})
    new = stock_item(attributes={"tags": ["b", "a"]})

    assert set(changed(event("MODIFY", old, new))) == {"attributes"}


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (True, Decimal(1), False),
        (False, Decimal(0), False),
        (True, True, True),
        ({"a": Decimal(1)}, {"a": Decimal(1), "b": None}, False),
        ([Decimal(1)], (Decimal(1),), True),
        ("1", Decimal(1), False),
        ({"a": Decimal(1)}, [Decimal(1)], False),
        (None, {}, False),
    ],
)
def test_same_value_is_strict_about_kinds(a: Any, b: Any, same: bool) -> None:
    assert same_value(a, b) is same
    assert same_value(b, a) is same


def test_field_changes_are_sorted_by_field_name() -> None:
    changes = field_changes({}, {"zeta": 1, "alpha": 2, "mid": 3, "pk": "x"})

    assert [c.field for c in changes] == ["alpha", "mid", "zeta"]


# -- the query service -------------------------------------------------------------


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def history_event(entity_type: str, entity_id: str, minute: int, event_id: str, tenant_id: str = "t1") -> HistoryEvent:
    return HistoryEvent(
        tenant_id=tenant_id,
        event_id=event_id,
        changed_at=T0 + timedelta(minutes=minute),
        changed_by_id="u",
        changed_by_name="U",
        change_type="MODIFY",
        entity_type=entity_type,
        entity_id=entity_id,
    )


def test_events_for_returns_one_entitys_events_in_time_order() -> None:
    service = HistoryService(InMemoryHistoryStore())
    service.record(
        [
            history_event("stock", "s1", 5, "c"),
            history_event("stock", "s1", 1, "a"),
            history_event("stock", "s2", 2, "x"),
            history_event("stock", "s1", 3, "b"),
            history_event("stock", "s1", 4, "other-tenant", tenant_id="t2"),
        ]
    )

    assert [e.event_id for e in service.events_for("t1", "stock", "s1")] == ["a", "b", "c"]


def test_recording_the_same_event_twice_keeps_one() -> None:
    service = HistoryService(InMemoryHistoryStore())
    service.record([history_event("stock", "s1", 1, "a")])
    service.record([history_event("stock", "s1", 1, "a")])

    assert len(service.events_for("t1", "stock", "s1")) == 1


def test_interleaved_merges_several_entities_into_one_timeline() -> None:
    service = HistoryService(InMemoryHistoryStore())
    service.record(
        [
            history_event("stock", "s1", 1, "s1-1"),
            history_event("reservation", "r1", 2, "r1-2"),
            history_event("stock", "s1", 3, "s1-3"),
            history_event("reservation", "r1", 4, "r1-4"),
            history_event("stock", "s1", 6, "s1-6"),
            history_event("stock", "s2", 5, "s2-5"),
        ]
    )

    timeline = service.interleaved("t1", [("stock", "s1"), ("reservation", "r1")])

    assert [e.event_id for e in timeline] == ["s1-1", "r1-2", "s1-3", "r1-4", "s1-6"]


def test_interleaved_breaks_ties_in_the_order_entities_were_asked_for() -> None:
    service = HistoryService(InMemoryHistoryStore())
    service.record([history_event("stock", "s1", 1, "z-stock"), history_event("hold", "h1", 1, "a-hold")])

    first = service.interleaved("t1", [("stock", "s1"), ("hold", "h1")])
    second = service.interleaved("t1", [("hold", "h1"), ("stock", "s1")])

    assert [e.event_id for e in first] == ["z-stock", "a-hold"]
    assert [e.event_id for e in second] == ["a-hold", "z-stock"]


def test_interleaved_asks_for_a_repeated_entity_once() -> None:
    service = HistoryService(InMemoryHistoryStore())
    service.record([history_event("stock", "s1", 1, "a")])

    assert [e.event_id for e in service.interleaved("t1", [("stock", "s1"), ("stock", "s1")])] == ["a"]


def test_a_child_s_events_are_in_its_parent_s_timeline_and_not_in_its_events() -> None:
    store = InMemoryHistoryStore()
    service = HistoryService(store)
    order = history_event("order", "o1", 1, "a")
    line = history_event("order_line", "l1", 2, "b").model_copy(update={"parent_type": "order", "parent_id": "o1"})
    later = history_event("order", "o1", 3, "c")
    service.record([later, line, order])

    assert [e.event_id for e in service.timeline("t1", "order", "o1")] == ["a", "b", "c"]
    assert [e.event_id for e in service.events_for("t1", "order", "o1")] == ["a", "c"]


def test_an_item_naming_a_parent_makes_events_that_name_it_too() -> None:
    line = {
        "tenant_id": "t1",
        "entity_type": "order_line",
        "entity_id": "l1",
        "parent_type": "order",
        "parent_id": "o1",
        "changed_at": "2026-01-01T00:00:00.000000Z",
        "quantity": 1,
    }
    event = change_event(event_id="e1", event_name="INSERT", approximate_at=T0, old=None, new=line)

    assert event is not None
    assert (event.parent_type, event.parent_id) == ("order", "o1")
    assert [c.field for c in event.changes] == ["quantity"]  # the parent is bookkeeping, not a change
