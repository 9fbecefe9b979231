"""Every request body refuses unknown fields: `"qty": 5` is a 400 naming it, never silently dropped."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import app  # noqa: F401 - registers every route
from chalicelib.core.bodies import Body
from chalicelib.http.errors import from_validation
from chalicelib.http.routing import ENDPOINTS
from chalicelib.surfaces.company.models import InventoryCreate, InventoryUpdate

pytestmark = pytest.mark.disable_socket


def models_in(kind: Any) -> set[type[BaseModel]]:
    """The pydantic models a body type is made of, nested ones included."""
    found: set[type[BaseModel]] = set()
    todo = [kind]
    while todo:
        current = todo.pop()
        if isinstance(current, type) and issubclass(current, BaseModel):
            if current in found:
                continue
            found.add(current)
            todo.extend(field.annotation for field in current.model_fields.values())
        else:
            todo.extend(typing.get_args(current))
    return found


BODY_MODELS = sorted(
    {model for spec in ENDPOINTS if spec.body is not None for model in models_in(spec.body)}, key=lambda m: m.__name__
)


def test_there_are_body_models_to_check() -> None:
    assert len(BODY_MODELS) > 20


@pytest.mark.parametrize("model", BODY_MODELS, ids=lambda m: m.__name__)
def test_every_request_body_model_derives_from_body_and_forbids_unknown_fields(model: type[BaseModel]) -> None:
    assert issubclass(model, Body), f"{model.__name__} must derive from chalicelib.core.bodies.Body"
    assert model.model_config.get("extra") == "forbid"


def test_an_unknown_field_is_named_with_every_other_mistake() -> None:
    with pytest.raises(ValidationError) as raised:
        InventoryCreate.model_validate({"productName": "", "qty": 5, "quantity": "-1"})

    error = from_validation(raised.value)
    assert error.status == 400
    assert {d["field"]: d["message"] for d in error.details}.keys() == {"productName", "qty", "quantity"}
    assert "unknown field" in next(d["message"] for d in error.details if d["field"] == "qty")


def test_what_a_get_returned_can_be_sent_back_its_server_owned_fields_ignored() -> None:
    read = {
        "inventoryId": "i-1",
        "companyId": "c-1",
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:00:00Z",
        "typeLabel": "Round bar",
        "linkedOrders": "[]",
        "ruleTags": [],
        "productName": "Bar",
        "quantity": "3",
        "version": 2,
    }

    update = InventoryUpdate.model_validate(read)

    assert (update.inventoryId, update.quantity, update.version) == ("i-1", 3, 2)
    assert "companyId" not in update.model_fields_set
