"""Stream records -> domain events (core/events/mapping.py): the declared rows, stock figures, thresholds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.core.events.mapping import (
    RULES_BY_ENTITY,
    LevelKey,
    StreamChange,
    events_of,
    known_type,
    level_key,
    threshold_events,
)

pytestmark = pytest.mark.disable_socket

AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def change(name: str, old: dict[str, Any] | None, new: dict[str, Any] | None, event_id: str = "e1") -> StreamChange:
    return StreamChange(event_id=event_id, event_name=name, approximate_at=AT, old=old, new=new)


def stock(version: int, on_hand: int, reserved: int = 0, held: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "tenant_id": "t1",
        "entity_type": "stock",
        "entity_id": "s1",
        "stock_id": "s1",
        "product_id": "p1",
        "location_id": "l1",
        "bin_id": None,
        "lot_id": None,
        "owner": "INTERN",
        "version": Decimal(version),
        "on_hand": Decimal(on_hand),
        "reserved": Decimal(reserved),
        "held": Decimal(held),
        "available": Decimal(on_hand - reserved - held),
        "changed_at": "2026-12-01T10:00:01.000000Z",
        "changed_by_id": "u1",
        "changed_by_name": "Ann",
        **extra,
    }


MOVE = {"id": "m2", "kind": "adjustment", "quantity": Decimal(-3), "reason": "damaged", "reference": "R-1"}


def test_a_stock_update_with_a_movement_is_stock_changed_with_both_figures_and_the_movement() -> None:
    old = stock(1, 10, last_movement={"id": "m1", "kind": "initial", "quantity": Decimal(10)})
    new = stock(2, 7, last_movement=MOVE)

    [event] = events_of(change("MODIFY", old, new))

    assert event.type == "stock.changed"
    assert event.product_id == "p1"
    assert event.data["before"] == {"onHand": 10, "reserved": 0, "held": 0, "available": 10}
    assert event.data["after"] == {"onHand": 7, "reserved": 0, "held": 0, "available": 7}
    assert event.data["movement"]["kind"] == "adjustment"
    assert event.data["movement"]["reason"] == "damaged"
    assert event.data["movement"]["reference"] == "R-1"
    assert event.data["actor"] == {"id": "u1", "name": "Ann"}
    assert event.occurred_at == datetime(2026, 12, 1, 10, 0, 1, tzinfo=UTC)
    public = event.public()
    assert set(public) == {"id", "type", "occurredAt", "companyId", "data"}
    assert public["companyId"] == "t1"


def test_a_reservation_changes_figures_without_a_movement() -> None:
    [event] = events_of(change("MODIFY", stock(1, 10, last_movement=MOVE), stock(2, 10, reserved=4)))
    assert event.data["after"]["available"] == 6
    assert event.data["movement"] is None


def test_an_update_that_leaves_the_figures_is_no_stock_event() -> None:
    assert events_of(change("MODIFY", stock(1, 10), stock(2, 10, name="renamed"))) == []


def test_a_new_record_is_stock_changed_from_zero() -> None:
    [event] = events_of(change("INSERT", None, stock(1, 5, last_movement=MOVE)))
    assert event.data["before"]["onHand"] == 0
    assert event.data["after"]["onHand"] == 5
    assert event.data["movement"]["id"] == "m2"


def test_ids_are_stable_across_redelivery_and_differ_between_changes() -> None:
    first = events_of(change("MODIFY", stock(1, 10), stock(2, 7), event_id="a"))[0]
    again = events_of(change("MODIFY", stock(1, 10), stock(2, 7), event_id="b"))[0]
    later = events_of(change("MODIFY", stock(2, 7), stock(3, 5), event_id="c"))[0]
    assert first.event_id == again.event_id
    assert first.event_id != later.event_id


def claim(kind: str, status: str, version: int) -> dict[str, Any]:
    return {
        "tenant_id": "t1",
        "entity_type": kind,
        "entity_id": "c1",
        f"{kind}_id": "c1",
        "stock_id": "s1",
        "product_id": "p1",
        "location_id": "l1",
        "quantity": Decimal(2),
        "status": status,
        "version": Decimal(version),
        "reason": "qc",
    }


@pytest.mark.parametrize(
    ("kind", "name", "old_status", "new_status", "expected"),
    [
        ("reservation", "INSERT", None, "active", "reservation.created"),
        ("reservation", "MODIFY", "active", "released", "reservation.released"),
        ("reservation", "MODIFY", "active", "expired", "reservation.expired"),
        ("hold", "INSERT", None, "active", "hold.created"),
        ("hold", "MODIFY", "active", "released", "hold.released"),
    ],
)
def test_claims_map_by_their_rows(kind: str, name: str, old_status: str | None, new_status: str, expected: str) -> None:
    old = claim(kind, old_status, 1) if old_status else None
    [event] = events_of(change(name, old, claim(kind, new_status, 2)))
    assert event.type == expected
    assert event.product_id == "p1"
    assert event.data["quantity"] == 2


def test_import_jobs_are_known_by_their_key_and_only_finishing_is_an_event() -> None:
    def job(status: str, version: int) -> dict[str, Any]:
        return {"pk": "T#t1#IMPORT", "sk": "j1", "tenant_id": "t1", "job_id": "j1", "kind": "inventory",
                "status": status, "version": Decimal(version)}  # fmt: skip

    assert events_of(change("INSERT", None, job("queued", 1))) == []
    assert events_of(change("MODIFY", job("queued", 1), job("running", 2))) == []
    [done] = events_of(change("MODIFY", job("running", 2), job("completed", 3)))
    [failed] = events_of(change("MODIFY", job("running", 2), job("failed", 3)))
    assert (done.type, failed.type) == ("import.completed", "import.failed")
    assert done.data["jobId"] == "j1"


def test_orders_get_created_status_updated_and_deleted_events() -> None:
    def order(version: int, **fields: Any) -> dict[str, Any]:
        base = {"tenant_id": "t1", "entity_type": "order", "entity_id": "o1", "order_id": "o1"}
        return {
            **base,
            "order_reference": "PO-1",
            "status": "open",
            "active": True,
            "version": Decimal(version),
            **fields,
        }

    assert [e.type for e in events_of(change("INSERT", None, order(1)))] == ["order.created"]
    assert [e.type for e in events_of(change("MODIFY", order(1), order(2, status="shipped")))] == ["order.shipped"]
    assert [e.type for e in events_of(change("MODIFY", order(2), order(3, site="B")))] == ["order.updated"]
    assert [e.type for e in events_of(change("MODIFY", order(3), order(4, active=False)))] == ["order.deleted"]
    # Only bookkeeping changed: nothing to say.
    assert events_of(change("MODIFY", order(4), order(5))) == []


def test_transfers_and_stock_requests_are_declared_rows_not_code() -> None:
    assert RULES_BY_ENTITY["transfer"].prefix == "transfer"
    assert RULES_BY_ENTITY["stock_request"].prefix == "stock_request"
    item = {"tenant_id": "t1", "entity_type": "transfer", "entity_id": "tr1", "transfer_id": "tr1",
            "status": "draft", "version": Decimal(1)}  # fmt: skip
    shipped = {**item, "status": "shipped", "version": Decimal(2)}
    assert [e.type for e in events_of(change("MODIFY", item, shipped))] == ["transfer.shipped"]
    assert known_type("transfer.shipped") and known_type("stock_request.approved")
    assert not known_type("bogus.event")


def test_items_without_a_rule_or_tenant_give_nothing() -> None:
    assert events_of(change("INSERT", None, {"tenant_id": "t1", "entity_type": "movement"})) == []
    assert events_of(change("INSERT", None, {"entity_type": "reservation"})) == []
    assert events_of(change("INSERT", None, {"tenant_id": "t1", "entity_type": "guard"})) == []


def test_threshold_crossings_walk_the_batch_back_from_the_total_read_after_it() -> None:
    # Location total after the batch: 3. Changes: 10 -> 6 (-4), 6 -> 3 (-3) at a min level of 5;
    # then, in a later batch, 3 -> 8 goes back above.
    down1 = events_of(change("MODIFY", stock(1, 10), stock(2, 6)))[0]
    down2 = events_of(change("MODIFY", stock(2, 6), stock(3, 3)))[0]
    key = level_key(down1)
    assert key == LevelKey("t1", "p1", "l1")

    [crossed] = threshold_events([down1, down2], {key: Decimal(3)}, {key: Decimal(5)})

    assert crossed.type == "threshold.crossed"
    assert crossed.data["direction"] == "below"
    assert (crossed.data["before"], crossed.data["after"]) == (6, 3)
    assert crossed.data["cause"] == down2.event_id
    up = events_of(change("MODIFY", stock(3, 3), stock(4, 8)))[0]
    [back] = threshold_events([up], {key: Decimal(8)}, {key: Decimal(5)})
    assert back.data["direction"] == "above"
    # No minimum level: no threshold.
    assert threshold_events([down1, down2], {key: Decimal(3)}, {}) == []
