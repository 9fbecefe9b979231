"""Reference data items in the main table.

Each kind has its own partition (`T#<t>#REF#<kind>`, sk = id), so listing a
kind is one Query and resolving labels is one BatchGetItem. A mill
certification also owns a guard `T#<t>#UNIQUE / HEAT#<heat code>` that maps
the heat code to it; the guard is written, moved and removed in the same
transaction as the certification.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.core.models import Actor
from chalicelib.core.reference.service import HEAT, LOCATION, ReferenceItem, RefKey, RefKind, Resolved
from chalicelib.storage import keys
from chalicelib.storage.codec import from_attrs, record_item, to_attrs, to_record
from chalicelib.storage.dynamo import batch_get, query_all
from chalicelib.storage.transaction import Meaning, Role, Transaction


def heat_value(code: str) -> str:
    return code.strip().casefold()


class DynamoReferenceStore:
    def __init__(self, table: str) -> None:
        self._table = table

    # -- writes ------------------------------------------------------------

    def create_items(self, items: list[ReferenceItem], actor: Actor) -> None:
        tx = Transaction()
        for index, item in enumerate(items):
            created = Meaning(Role.NEW, item.kind.value, item.ref_id, field="id", index=index)
            tx.add(self._put(item, actor, None), created)
            if item.heat_code and item.active:
                tx.add(self._put_guard(item), self._taken(item))
        tx.commit()

    def update_items(self, pairs: list[tuple[ReferenceItem, ReferenceItem]], actor: Actor) -> None:
        tx = Transaction()
        for index, (new, old) in enumerate(pairs):
            changed = Meaning(Role.VERSION, "entry", new.ref_id, field="version", index=index)
            tx.add(self._put(new, actor, old.version), changed)
            new_code = heat_value(new.heat_code) if new.heat_code and new.active else None
            old_code = heat_value(old.heat_code) if old.heat_code and old.active else None
            if new_code == old_code:
                continue
            if old_code:
                tx.add(self._delete_guard(old), changed)
            if new_code:
                tx.add(self._put_guard(new), self._taken(new))
        tx.commit()

    @staticmethod
    def _taken(item: ReferenceItem) -> Meaning:
        # At most one active mill certification per heat code.
        # The code as its guard holds it (trimmed, casefolded): the value that clashed.
        value = heat_value(item.heat_code or "")
        return Meaning(Role.GUARD, "mill certification", item.ref_id, field="heatCode", value=value)

    def _put(self, item: ReferenceItem, actor: Actor, previous_version: int | None) -> dict[str, Any]:
        attrs = record_item(
            item, self._key(item.tenant_id, item.kind, item.ref_id), item.kind.value, item.ref_id, actor, item.label
        )
        put: dict[str, Any] = {"TableName": self._table, "Item": attrs}
        if previous_version is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :v"
            put["ExpressionAttributeValues"] = to_attrs({":v": previous_version})
        return {"Put": put}

    def _put_guard(self, item: ReferenceItem) -> dict[str, Any]:
        guard = {
            **keys.unique(item.tenant_id, "HEAT", heat_value(item.heat_code or "")),
            "target_id": item.ref_id,
            "entity_type": "guard",
        }
        return {
            "Put": {
                "TableName": self._table,
                "Item": to_attrs(guard),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _delete_guard(self, item: ReferenceItem) -> dict[str, Any]:
        return {
            "Delete": {
                "TableName": self._table,
                "Key": to_attrs(keys.unique(item.tenant_id, "HEAT", heat_value(item.heat_code or ""))),
                "ConditionExpression": "target_id = :t",
                "ExpressionAttributeValues": to_attrs({":t": item.ref_id}),
            }
        }

    # -- reads -------------------------------------------------------------

    def get_items(self, tenant_id: str, kind: RefKind, ids: Iterable[str]) -> dict[str, ReferenceItem]:
        wanted = [to_attrs(self._key(tenant_id, kind, i)) for i in ids]
        if not wanted:
            return {}
        found = [to_record(ReferenceItem, item) for item in batch_get(self._table, wanted)]
        return {item.ref_id: item for item in found}

    def list_active(self, tenant_id: str, kind: RefKind) -> list[ReferenceItem]:
        items = query_all(
            self._table,
            KeyConditionExpression="pk = :pk",
            FilterExpression="active = :yes",
            ExpressionAttributeValues=to_attrs({":pk": keys.reference_partition(tenant_id, kind.value), ":yes": True}),
            ConsistentRead=True,
        )
        return [to_record(ReferenceItem, item) for item in items]

    def lookup(self, tenant_id: str, wanted: Iterable[RefKey]) -> dict[RefKey, Resolved]:
        """Any mix of reference items, locations and heat-code guards, in one BatchGetItem per 100 keys."""
        # Several wanted keys can name one item (two spellings of a heat code): each gets its answer.
        by_key: dict[tuple[str, str], list[RefKey]] = {}
        for kind, ref in wanted:
            key = self._lookup_key(tenant_id, kind, ref)
            by_key.setdefault((key["pk"], key["sk"]), []).append((kind, ref))
        items = batch_get(self._table, [to_attrs({"pk": pk, "sk": sk}) for pk, sk in by_key])
        found: dict[RefKey, Resolved] = {}
        for attrs in items:
            data = from_attrs(attrs)
            for ref_key in by_key[(attrs["pk"]["S"], attrs["sk"]["S"])]:
                found[ref_key] = resolved(ref_key[0], data)
        return found

    def lookup_key(self, tenant_id: str, kind: str, ref: str) -> dict[str, str]:
        """The item a label lookup of (kind, ref) reads."""
        return self._lookup_key(tenant_id, kind, ref)

    def _lookup_key(self, tenant_id: str, kind: str, ref: str) -> dict[str, str]:
        if kind == LOCATION:
            return keys.location(tenant_id, ref)
        if kind == HEAT:
            return keys.unique(tenant_id, "HEAT", heat_value(ref))
        return self._key(tenant_id, RefKind(kind), ref)

    @staticmethod
    def _key(tenant_id: str, kind: RefKind, ref_id: str) -> dict[str, str]:
        return keys.reference(tenant_id, kind.value, ref_id)


# What a label lookup reads of each kind of item (all that `resolved` needs), for projected reads.
LABEL_ATTRIBUTES = ("ref_id", "label", "active", "target_id", "location_id", "name")


def resolved(kind: str, data: dict[str, Any]) -> Resolved:
    """What a looked-up item says: its id, label and whether it is active (LABEL_ATTRIBUTES suffice)."""
    if kind == HEAT:
        return Resolved(id=str(data["target_id"]), label=None, active=True)
    if kind == LOCATION:
        return Resolved(id=str(data["location_id"]), label=str(data["name"]), active=bool(data.get("active", True)))
    return Resolved(id=str(data["ref_id"]), label=str(data["label"]), active=bool(data.get("active", True)))
