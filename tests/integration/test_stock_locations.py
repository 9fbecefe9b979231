"""000 stock locations: batches are checked in the catalog service and commit in one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from chalicelib import wiring
from chalicelib.storage.aws import on_call
from tests.integration.company import Company, error_fields


@contextmanager
def counted() -> Iterator[list[str]]:
    calls: list[str] = []
    stop = on_call(lambda service, operation: calls.append(operation))
    try:
        yield calls
    finally:
        stop()


def labels(company: Company) -> list[str]:
    return sorted(loc["label"] for loc in company.ok("GET", "/stock-locations") if loc["label"] != "Default")


def test_a_batch_create_reads_the_names_once_and_writes_once(acme: Company) -> None:
    with counted() as calls:
        created = acme.ok("POST", "/stock-locations", [{"label": f"Bay {n}"} for n in range(20)], 201)

    assert len(created) == 20
    # Authentication, one batched read of the 20 name guards, one transaction for the 20 locations.
    assert calls.count("BatchGetItem") == 1
    assert calls.count("TransactWriteItems") == 1
    assert calls.count("PutItem") == 0 and calls.count("GetItem") == 1


def test_a_name_in_use_or_repeated_fails_the_whole_batch_naming_each_entry(acme: Company) -> None:
    acme.ok("POST", "/stock-locations", [{"label": "Yard A"}], 201)

    response = acme.call("POST", "/stock-locations", [{"label": "Yard B"}, {"label": "YARD A"}, {"label": "yard b"}])

    assert response.status_code == 409, response.body
    assert error_fields(response) == ["[1].label", "[2].label"]
    assert labels(acme) == ["Yard A"]


def test_a_blank_or_control_character_label_is_a_400(acme: Company) -> None:
    response = acme.call("POST", "/stock-locations", [{"label": "Ok"}, {"label": "   "}, {"label": "Bay\x00"}])

    assert response.status_code == 400, response.body
    assert set(error_fields(response)) == {"[1].label", "[2].label"}
    assert labels(acme) == []


def test_a_batch_update_is_all_or_nothing(acme: Company) -> None:
    a, b, c = acme.ok("POST", "/stock-locations", [{"label": "A"}, {"label": "B"}, {"label": "C"}], 201)

    clash = acme.call("PUT", "/stock-locations", [{"id": a["id"], "label": "A2"}, {"id": b["id"], "label": "c"}])
    unknown = acme.call("PUT", "/stock-locations", [{"id": a["id"], "label": "A2"}, {"id": "nope", "label": "X"}])
    stale = acme.call(
        "PUT", "/stock-locations", [{"id": a["id"], "label": "A2"}, {"id": b["id"], "label": "B2", "version": 9}]
    )

    assert (clash.status_code, error_fields(clash)) == (409, ["[1].label"])
    assert (unknown.status_code, error_fields(unknown)) == (404, ["[1].id"])
    assert (stale.status_code, error_fields(stale)) == (409, ["[1].version"])
    assert labels(acme) == ["A", "B", "C"]
    renamed = acme.ok("PUT", "/stock-locations", [{"id": a["id"], "label": "A2"}, {"id": c["id"], "label": "C2"}])
    assert [r["label"] for r in renamed] == ["A2", "C2"]
    assert labels(acme) == ["A2", "B", "C2"]
    # The old names are free again.
    acme.ok("POST", "/stock-locations", [{"label": "A"}], 201)


def test_a_batch_delete_is_all_or_nothing_and_frees_nothing(acme: Company) -> None:
    a, b = acme.ok("POST", "/stock-locations", [{"label": "A"}, {"label": "B"}], 201)

    twice = acme.call("DELETE", "/stock-locations", {"ids": [a["id"], a["id"]]})
    missing = acme.call("DELETE", "/stock-locations", {"ids": [a["id"], "nope"]})
    # An id given twice is bad input (the OpenAPI says uniqueItems), refused before anything is read.
    assert (twice.status_code, error_fields(twice)) == (400, ["ids"])
    assert (missing.status_code, error_fields(missing)) == (404, ["[1].id"])
    assert labels(acme) == ["A", "B"]

    with counted() as calls:
        acme.ok("DELETE", "/stock-locations", {"ids": [a["id"], b["id"]]})
    assert calls.count("TransactWriteItems") == 1
    assert labels(acme) == []
    assert not wiring.catalog_service().get_location(acme.id, a["id"]).active


def test_more_renames_than_one_transaction_holds_is_a_400_before_anything_is_written(acme: Company) -> None:
    # A create writes the location, its name guard and its numeric-id guard: 33 fit one request.
    created = acme.ok("POST", "/stock-locations", [{"label": f"Bay {n}"} for n in range(17)], 201)
    created += acme.ok("POST", "/stock-locations", [{"label": f"Bay {n}"} for n in range(17, 34)], 201)

    response = acme.call(
        "PUT", "/stock-locations", [{"id": c["id"], "label": f"Row {n}"} for n, c in enumerate(created)]
    )

    assert response.status_code == 400, response.body
    assert error_fields(response) == ["body"]
    assert labels(acme) == sorted(f"Bay {n}" for n in range(34))
