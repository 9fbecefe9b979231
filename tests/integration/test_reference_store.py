"""The reference data store contract, run against DynamoDB (moto) and the in-memory fake.

A batch is one transaction: a mill certification's heat code guard is taken,
moved and freed with it, a soft delete is a versioned write, and one label
lookup resolves reference items, locations and heat codes together.
"""

from __future__ import annotations

import pytest

from chalicelib.core.errors import AlreadyExists, NotFound, StaleVersion
from chalicelib.core.ids import new_id
from chalicelib.core.models import Actor, Location
from chalicelib.core.ports import CatalogStore
from chalicelib.core.reference.service import (
    HEAT,
    LOCATION,
    NewReference,
    ReferenceItem,
    ReferenceService,
    ReferenceStore,
    ReferenceUpdate,
    RefKind,
    Resolved,
)
from chalicelib.storage.catalog_repo import DynamoCatalogStore
from chalicelib.storage.reference_repo import DynamoReferenceStore
from tests.fakes import InMemoryCatalogStore, InMemoryReferenceStore, MemoryTable

ACTOR = Actor(id="user:1", name="Tester")
CERT = RefKind.MILL_CERTIFICATION


@pytest.fixture(params=["fake", "dynamo"])
def stores(request: pytest.FixtureRequest) -> tuple[ReferenceStore, CatalogStore]:
    if request.param == "fake":
        memory = MemoryTable()
        return InMemoryReferenceStore(memory), InMemoryCatalogStore(memory)
    table = request.getfixturevalue("table")
    return DynamoReferenceStore(table), DynamoCatalogStore(table)


@pytest.fixture
def store(stores: tuple[ReferenceStore, CatalogStore]) -> ReferenceStore:
    return stores[0]


@pytest.fixture
def tenant() -> str:
    return new_id()


def cert(tenant: str, heat_code: str, **changes: object) -> ReferenceItem:
    return ReferenceItem(tenant_id=tenant, kind=CERT, label=heat_code, heat_code=heat_code, **changes)


def next_of(item: ReferenceItem, **changes: object) -> tuple[ReferenceItem, ReferenceItem]:
    return item.model_copy(update={**changes, "version": item.version + 1}), item


def test_items_are_read_back_by_kind_and_only_active_ones_are_listed(store: ReferenceStore, tenant: str) -> None:
    a = ReferenceItem(tenant_id=tenant, kind=RefKind.TYPE, label="Round bar", data={"code": "RB"})
    b = ReferenceItem(tenant_id=tenant, kind=RefKind.TYPE, label="Flat bar")
    grade = ReferenceItem(tenant_id=tenant, kind=RefKind.MATERIAL, label="S355")
    store.create_items([a, b, grade], ACTOR)
    store.update_items([next_of(b, active=False)], ACTOR)

    assert [i.ref_id for i in store.list_active(tenant, RefKind.TYPE)] == [a.ref_id]
    assert store.list_active(tenant, RefKind.TAG) == []
    found = store.get_items(tenant, RefKind.TYPE, [a.ref_id, b.ref_id, grade.ref_id, "missing"])
    assert {k: (v.label, v.active, v.version) for k, v in found.items()} == {
        a.ref_id: ("Round bar", True, 1),
        b.ref_id: ("Flat bar", False, 2),
    }
    assert found[a.ref_id].data == {"code": "RB"}
    assert store.get_items(new_id(), RefKind.TYPE, [a.ref_id]) == {}
    assert store.get_items(tenant, RefKind.TYPE, []) == {}


def test_listing_is_in_id_order(store: ReferenceStore, tenant: str) -> None:
    items = [ReferenceItem(tenant_id=tenant, kind=RefKind.TAG, label=f"t{i}") for i in range(5)]
    store.create_items(items, ACTOR)
    assert [i.ref_id for i in store.list_active(tenant, RefKind.TAG)] == sorted(i.ref_id for i in items)


def test_a_heat_code_belongs_to_one_active_certification_in_any_case(store: ReferenceStore, tenant: str) -> None:
    first = cert(tenant, "H-1")
    store.create_items([first], ACTOR)
    other = cert(tenant, "A-7")

    with pytest.raises(AlreadyExists) as exc:
        store.create_items([other, cert(tenant, " h-1")], ACTOR)

    assert exc.value.details == [{"field": "heatCode", "message": "h-1 is already in use"}]
    assert store.get_items(tenant, CERT, [other.ref_id]) == {}  # all or nothing
    # Another tenant has its own heat codes.
    store.create_items([cert(new_id(), "H-1")], ACTOR)


def test_deleting_a_certification_frees_its_heat_code_and_a_change_moves_it(store: ReferenceStore, tenant: str) -> None:
    first, second = cert(tenant, "H-1"), cert(tenant, "H-2")
    store.create_items([first, second], ACTOR)

    store.update_items([next_of(first, active=False)], ACTOR)
    store.update_items([next_of(second, heat_code="H-3")], ACTOR)

    heat = store.lookup(tenant, [(HEAT, "h-1"), (HEAT, "H-2"), (HEAT, "H-3")])
    assert heat == {(HEAT, "H-3"): Resolved(id=second.ref_id, label=None, active=True)}
    third = cert(tenant, "H-1")
    store.create_items([third, cert(tenant, "H-2")], ACTOR)
    with pytest.raises(AlreadyExists):
        store.create_items([cert(tenant, "h-3")], ACTOR)


def test_a_stale_version_refuses_the_whole_batch(store: ReferenceStore, tenant: str) -> None:
    a, b = cert(tenant, "H-1"), cert(tenant, "H-2")
    store.create_items([a, b], ACTOR)
    store.update_items([next_of(b, label="moved")], ACTOR)

    with pytest.raises(StaleVersion):
        store.update_items([next_of(a, heat_code="H-9"), next_of(b, label="stale")], ACTOR)
    with pytest.raises(AlreadyExists) as exists:
        # A new item whose id exists: that id is taken (not a heat code).
        store.create_items([a.model_copy(update={"heat_code": None})], ACTOR)
    assert exists.value.details == [{"field": "[0].id", "message": "already exists"}]

    found = store.get_items(tenant, CERT, [a.ref_id, b.ref_id])
    assert (found[a.ref_id].heat_code, found[a.ref_id].version) == ("H-1", 1)
    assert (found[b.ref_id].label, found[b.ref_id].version) == ("moved", 2)
    assert store.lookup(tenant, [(HEAT, "H-9")]) == {}


def test_one_lookup_resolves_items_locations_and_heat_codes(
    stores: tuple[ReferenceStore, CatalogStore], tenant: str
) -> None:
    store, catalog = stores
    grade = ReferenceItem(tenant_id=tenant, kind=RefKind.MATERIAL, label="S355")
    gone = ReferenceItem(tenant_id=tenant, kind=RefKind.ORGANISATION, label="Old Mill", active=False)
    certificate = cert(tenant, "H-1")
    store.create_items([grade, gone, certificate], ACTOR)
    yard = Location(tenant_id=tenant, name="Yard A")
    catalog.create_location(yard, ACTOR)
    foreign = ReferenceItem(tenant_id=new_id(), kind=RefKind.MATERIAL, label="theirs")
    store.create_items([foreign], ACTOR)

    found = store.lookup(
        tenant,
        [
            (RefKind.MATERIAL.value, grade.ref_id),
            (RefKind.ORGANISATION.value, gone.ref_id),
            (LOCATION, yard.location_id),
            (HEAT, " h-1 "),
            (RefKind.MATERIAL.value, foreign.ref_id),
            (RefKind.TYPE.value, grade.ref_id),
            (LOCATION, "missing"),
        ],
    )

    assert found == {
        (RefKind.MATERIAL.value, grade.ref_id): Resolved(grade.ref_id, "S355", True),
        (RefKind.ORGANISATION.value, gone.ref_id): Resolved(gone.ref_id, "Old Mill", False),
        (LOCATION, yard.location_id): Resolved(yard.location_id, "Yard A", True),
        (HEAT, " h-1 "): Resolved(certificate.ref_id, None, True),
    }
    assert store.lookup(tenant, []) == {}


def test_two_spellings_of_one_heat_code_both_resolve(store: ReferenceStore, tenant: str) -> None:
    certificate = cert(tenant, "H-1")
    store.create_items([certificate], ACTOR)

    found = store.lookup(tenant, [(HEAT, "H-1"), (HEAT, "h-1")])

    assert found == {key: Resolved(certificate.ref_id, None, True) for key in [(HEAT, "H-1"), (HEAT, "h-1")]}


# -- the service over each store ------------------------------------------------------------


def test_the_service_keeps_its_rules_over_either_store(store: ReferenceStore, tenant: str) -> None:
    service = ReferenceService(store)
    made = service.create(tenant, RefKind.TYPE, [NewReference("Bar", {}), NewReference("Tube", {})], ACTOR, "cmd-1")
    again = service.create(tenant, RefKind.TYPE, [NewReference("Bar", {}), NewReference("Tube", {})], ACTOR, "cmd-1")
    assert [i.ref_id for i in again] == [i.ref_id for i in made]

    service.update(tenant, RefKind.TYPE, [ReferenceUpdate(made[0].ref_id, "Round bar", {}, expected_version=1)], ACTOR)
    with pytest.raises(StaleVersion):
        service.update(tenant, RefKind.TYPE, [ReferenceUpdate(made[0].ref_id, "x", {}, expected_version=1)], ACTOR)
    service.delete(tenant, RefKind.TYPE, [made[1].ref_id], ACTOR)
    with pytest.raises(NotFound) as exc:
        service.delete(tenant, RefKind.TYPE, [made[0].ref_id, made[1].ref_id], ACTOR)
    assert [d["field"] for d in exc.value.details] == ["[1].id"]
    assert [(i.label, i.version) for i in service.list_active(tenant, RefKind.TYPE)] == [("Round bar", 2)]
