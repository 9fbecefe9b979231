"""Order and line item history in the document's names."""

from __future__ import annotations

from chalicelib.core.history.service import documented_change_type
from chalicelib.core.models import FieldChange, HistoryEvent
from chalicelib.features.orders.model import DOCUMENTED_ENTITY, HIDDEN_FIELDS, documented

# -- history -----------------------------------------------------------------


def translate_event(event: HistoryEvent) -> HistoryEvent:
    """An order or line item history event in documented names, with a 003 change type."""
    changes = [
        FieldChange(field=documented(c.field), old=c.old, new=c.new)
        for c in event.changes
        if c.field not in HIDDEN_FIELDS
    ]
    return event.model_copy(
        update={
            "changes": changes,
            "change_type": documented_change_type(event),
            "entity_type": DOCUMENTED_ENTITY.get(event.entity_type, event.entity_type),
        }
    )
