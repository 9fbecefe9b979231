"""The history and idempotency store contracts, run against DynamoDB (moto) and the in-memory fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.core.history.service import HistoryService, HistoryStore
from chalicelib.core.ids import new_id
from chalicelib.core.models import FieldChange, HistoryEvent
from chalicelib.settings import get_settings
from chalicelib.storage.history_repo import DynamoHistoryStore
from chalicelib.storage.idempotency_repo import COMPLETED, IN_PROGRESS, DynamoIdempotencyStore, StoredRequest
from tests.fakes import InMemoryHistoryStore, InMemoryIdempotencyStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["fake", "dynamo"])
def history(request: pytest.FixtureRequest) -> HistoryStore:
    if request.param == "fake":
        return InMemoryHistoryStore()
    request.getfixturevalue("module_aws")
    return DynamoHistoryStore(get_settings().history_table)


@pytest.fixture
def tenant() -> str:
    return new_id()


def event(tenant: str, entity_id: str, minute: int, event_id: str, **fields: Any) -> HistoryEvent:
    values: dict[str, Any] = {"entity_type": "stock", "change_type": "MODIFY", **fields}
    return HistoryEvent(
        tenant_id=tenant,
        event_id=event_id,
        changed_at=T0 + timedelta(minutes=minute),
        changed_by_id="key:1",
        changed_by_name="Clerk",
        entity_id=entity_id,
        **values,
    )


def test_an_entitys_events_come_back_in_time_order_whatever_the_write_order(history: HistoryStore, tenant: str) -> None:
    changes = [FieldChange(field="on_hand", old=Decimal(1), new=Decimal("2.5")), FieldChange(field="name", new="Bar")]
    history.put_events(
        [
            event(tenant, "s1", 5, "c"),
            event(tenant, "s1", 1, "a", changes=changes, entity_label="Bar"),
            event(tenant, "s2", 2, "x"),
            event(tenant, "s1", 1, "b"),
            event(new_id(), "s1", 3, "other-tenant"),
            event(tenant, "s1", 4, "line", entity_type="order_line"),
        ]
    )

    found = history.events_for(tenant, "stock", "s1")

    assert [e.event_id for e in found] == ["a", "b", "c"]
    assert found[0].changes == changes
    assert (found[0].entity_label, found[0].changed_at) == ("Bar", T0 + timedelta(minutes=1))
    assert [e.event_id for e in history.events_for(tenant, "STOCK", "s1")] == ["a", "b", "c"]
    assert [e.event_id for e in history.events_for(tenant, "order_line", "s1")] == ["line"]
    assert history.events_for(tenant, "stock", "s3") == []


def test_an_event_written_again_is_kept_once(history: HistoryStore, tenant: str) -> None:
    first = event(tenant, "s1", 1, "a", entity_label="first")
    history.put_events([first, first.model_copy(update={"entity_label": "repeat in the batch"})])
    history.put_events([first.model_copy(update={"entity_label": "redelivered"})])

    found = history.events_for(tenant, "stock", "s1")

    assert [(e.event_id, e.entity_label) for e in found] == [("a", "redelivered")]


def test_interleaved_timelines_merge_in_time_order(history: HistoryStore, tenant: str) -> None:
    history.put_events(
        [
            event(tenant, "o1", 3, "o-late", entity_type="order"),
            event(tenant, "l1", 2, "l-mid", entity_type="order_line"),
            event(tenant, "o1", 1, "o-early", entity_type="order"),
        ]
    )
    merged = HistoryService(history).interleaved(tenant, [("order", "o1"), ("order_line", "l1")])
    assert [e.event_id for e in merged] == ["o-early", "l-mid", "o-late"]


# -- idempotency --------------------------------------------------------------------------


@pytest.fixture(params=["fake", "dynamo"])
def idempotency(request: pytest.FixtureRequest) -> Any:
    if request.param == "fake":
        return InMemoryIdempotencyStore()
    request.getfixturevalue("module_aws")
    return DynamoIdempotencyStore(get_settings().idempotency_table)


NOW = 1_800_000_000
LOCK, TTL = 30, 86_400


def test_a_key_is_claimed_once_and_then_answers_with_its_holder(idempotency: Any, tenant: str) -> None:
    assert idempotency.claim(tenant, "k1", "fp-1", NOW, LOCK, TTL) is None

    assert idempotency.claim(tenant, "k1", "fp-1", NOW + 1, LOCK, TTL) == StoredRequest(IN_PROGRESS, "fp-1")
    assert idempotency.claim(tenant, "k1", "fp-2", NOW + 1, LOCK, TTL) == StoredRequest(IN_PROGRESS, "fp-1")
    assert idempotency.claim(new_id(), "k1", "fp-2", NOW + 1, LOCK, TTL) is None  # keys are per tenant

    idempotency.complete(tenant, "k1", 201, '{"id":"x"}', {"Location": "/x"})

    assert idempotency.claim(tenant, "k1", "fp-1", NOW + 2, LOCK, TTL) == StoredRequest(
        COMPLETED, "fp-1", 201, '{"id":"x"}', {"Location": "/x"}
    )


def test_a_dead_requests_lock_passes_to_the_same_request_only(idempotency: Any, tenant: str) -> None:
    idempotency.claim(tenant, "k1", "fp-1", NOW, LOCK, TTL)
    after_lock = NOW + LOCK + 1

    assert idempotency.claim(tenant, "k1", "fp-2", after_lock, LOCK, TTL) == StoredRequest(IN_PROGRESS, "fp-1")
    assert idempotency.claim(tenant, "k1", "fp-1", after_lock, LOCK, TTL) is None
    # The new holder's lock runs from its own claim.
    assert idempotency.claim(tenant, "k1", "fp-1", after_lock + 1, LOCK, TTL) == StoredRequest(IN_PROGRESS, "fp-1")


def test_an_expired_or_released_key_is_free_again(idempotency: Any, tenant: str) -> None:
    idempotency.claim(tenant, "k1", "fp-1", NOW, LOCK, TTL)
    idempotency.complete(tenant, "k1", 200, "{}", {})
    assert idempotency.claim(tenant, "k1", "fp-2", NOW + TTL + 1, LOCK, TTL) is None

    idempotency.release(tenant, "k1")
    assert idempotency.claim(tenant, "k1", "fp-3", NOW + TTL + 2, LOCK, TTL) is None
    idempotency.release(tenant, "never-claimed")
