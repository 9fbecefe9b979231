"""000 <-> core translation of inventory items: field names, product ids, history events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from chalicelib.core.models import FieldChange, HistoryEvent, StockRecord
from chalicelib.core.stock.service import ORDER_LINK_PREFIX
from chalicelib.features.company_inventory.service import (
    InventoryItem,
    product_id_for,
    translate_event,
)
from chalicelib.surfaces.company.models import InventoryCreate, InventoryUpdate, item_out


def record(**attributes: object) -> StockRecord:
    return StockRecord(
        tenant_id="t1",
        stock_id="s1",
        product_id="p1",
        location_id="l1",
        name="Bar",
        on_hand=Decimal(5),
        available=Decimal(5),
        attributes=dict(attributes),
    )


def test_item_fields_use_documented_names_and_linked_orders_is_a_json_string() -> None:
    item = InventoryItem(
        record=record(
            heat_code="H1",
            unit_price=Decimal("9.50"),
            supplier_id="org1",
            **{
                f"{ORDER_LINK_PREFIX}r2": {"orderId": "o2", "orderReference": "SO-2", "at": "2026-02-01"},
                f"{ORDER_LINK_PREFIX}r1": {"orderId": "o1", "orderReference": "SO-1", "at": "2026-01-01"},
            },
        ),
        type_label=None,
        material_label=None,
        supplier_name="Steel Co",
        location_label="Yard",
        mill_certification_id="mc1",
    )

    out = item_out(item)

    assert out["inventoryId"] == "s1"
    assert out["companyId"] == "t1"
    assert out["productName"] == "Bar"
    assert out["quantity"] == Decimal(5)
    assert out["stockLocationId"] == "l1"
    assert out["stockLocationLabel"] == "Yard"
    assert out["heatCode"] == "H1"
    assert out["unitPrice"] == Decimal("9.50")
    assert out["supplierName"] == "Steel Co"
    assert out["millCertificationId"] == "mc1"
    assert json.loads(out["linkedOrders"]) == [
        {"orderId": "o1", "orderReference": "SO-1"},
        {"orderId": "o2", "orderReference": "SO-2"},
    ]
    assert item_out(InventoryItem(record(), None, None, None, None, None))["linkedOrders"] == "[]"


def test_request_translation_keeps_only_sent_fields_and_drops_server_owned_ones() -> None:
    create = InventoryCreate.model_validate(
        {
            "productName": "Bar",
            "stockLocationId": "l1",
            "heatCode": "H1",
            "unitPrice": "1.10",
            "companyId": "other",
            "typeLabel": "x",
            "inventoryId": "chosen",
        }
    ).to_input()
    update = InventoryUpdate.model_validate({"inventoryId": "s1", "weight": None, "quantity": "3"}).to_input("s1", 2)

    assert create.given == {"name", "location_id", "heat_code", "unit_price"}
    assert create.attributes == {"heat_code": "H1", "unit_price": Decimal("1.10")}
    assert create.stock_id is None
    assert update.given == {"weight", "quantity"}
    assert update.attributes == {"weight": None}
    assert (update.stock_id, update.version, update.quantity) == ("s1", 2, Decimal(3))


def test_product_id_is_the_same_for_the_same_name_in_any_case_and_per_tenant() -> None:
    assert product_id_for("t1", "Round Bar ") == product_id_for("t1", "round bar")
    assert product_id_for("t1", "Round Bar") != product_id_for("t2", "Round Bar")


def event(change_type: str, *changes: FieldChange) -> HistoryEvent:
    return HistoryEvent(
        tenant_id="t1",
        event_id="e1",
        changed_at=datetime(2026, 1, 1, tzinfo=UTC),
        changed_by_id="u1",
        changed_by_name="Una",
        change_type=change_type,
        entity_type="stock",
        entity_id="s1",
        changes=list(changes),
    )


def test_history_events_are_translated_to_documented_fields() -> None:
    modified = event(
        "MODIFY",
        FieldChange(field="on_hand", old=Decimal(5), new=Decimal(3)),
        FieldChange(field="available", old=Decimal(5), new=Decimal(3)),
        FieldChange(field="location_id", old="l1", new="l2"),
        FieldChange(
            field="attributes",
            old={"heat_code": "H1", "width": Decimal(1)},
            new={
                "heat_code": "H2",
                "width": Decimal(1),
                f"{ORDER_LINK_PREFIX}r1": {"orderId": "o", "orderReference": "R"},
            },
        ),
    )

    translated = translate_event(modified)

    assert translated.change_type == "UPDATE"
    assert [(c.field, c.old, c.new) for c in translated.changes] == [
        ("quantity", Decimal(5), Decimal(3)),
        ("stockLocationId", "l1", "l2"),
        ("linkedOrders", [], [{"orderId": "o", "orderReference": "R"}]),
        ("heatCode", "H1", "H2"),
    ]


def test_history_change_types_name_creates_deletes_and_restores() -> None:
    assert translate_event(event("INSERT")).change_type == "CREATE"
    assert translate_event(event("MODIFY", FieldChange(field="active", old=True, new=False))).change_type == "DELETE"
    assert translate_event(event("MODIFY", FieldChange(field="active", old=False, new=True))).change_type == "RESTORE"
    assert translate_event(event("REMOVE")).change_type == "REMOVE"
