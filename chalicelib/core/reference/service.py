"""Reference data: the small lists that inventory rows point at.

One generic model serves every kind (types, materials, organisations, mill
certifications, tags, tag rules): a label, a few kind-specific fields in
`data`, an `active` flag for soft delete, and `version`. Stock locations are
not here: they are core Locations (CatalogService), so every surface sees
the same places.

Bulk writes are all or nothing: storage writes one batch in one transaction,
so the service validates everything (ids, versions, heat codes, tag rule
conditions) before it asks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from pydantic import Field

from chalicelib.core.errors import At, NotFound, Problem, StaleVersion, UnknownReference, ValidationFailed, problem
from chalicelib.core.ids import new_id, utcnow
from chalicelib.core.limits import BATCH_ENTRIES
from chalicelib.core.models import Actor, Entity
from chalicelib.core.reference import tag_rules as tags

# A request is one transaction; a mill certification needs two writes.
MAX_BATCH = BATCH_ENTRIES


class RefKind(StrEnum):
    TYPE = "type"
    MATERIAL = "material"
    ORGANISATION = "organisation"
    MILL_CERTIFICATION = "mill_certification"
    TAG = "tag"
    TAG_RULE = "tag_rule"


# Kinds that label resolution also looks up, though they are not reference items.
LOCATION = "location"
HEAT = "heat"


class ReferenceItem(Entity):
    kind: RefKind
    ref_id: str = Field(default_factory=new_id)
    # `label` for types, materials, stock locations; `name` for organisations and tags.
    label: str
    data: dict[str, Any] = Field(default_factory=dict)
    # Mill certifications only: unique per tenant among active certifications.
    heat_code: str | None = None
    active: bool = True


@dataclass(frozen=True)
class Resolved:
    """What a label lookup found: an id, its label, and whether it is active."""

    id: str
    label: str | None
    active: bool


RefKey = tuple[str, str]  # (kind, id): a RefKind value, LOCATION or HEAT (id = the heat code)


class ReferenceStore(Protocol):
    def create_items(self, items: list[ReferenceItem], actor: Actor) -> None: ...
    def update_items(self, pairs: list[tuple[ReferenceItem, ReferenceItem]], actor: Actor) -> None: ...
    def get_items(self, tenant_id: str, kind: RefKind, ids: Iterable[str]) -> dict[str, ReferenceItem]: ...
    def list_active(self, tenant_id: str, kind: RefKind) -> list[ReferenceItem]: ...
    def lookup(self, tenant_id: str, wanted: Iterable[RefKey]) -> dict[RefKey, Resolved]: ...


@dataclass(frozen=True)
class NewReference:
    label: str
    data: dict[str, Any]
    heat_code: str | None = None


@dataclass(frozen=True)
class ReferenceUpdate:
    ref_id: str
    label: str | None
    data: dict[str, Any]
    heat_code: str | None = None
    expected_version: int | None = None


def deterministic_id(command_id: str, index: int) -> str:
    """The id of the index-th entity a command creates: a retry creates the same ids."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"stockroom:{command_id}:{index}"))


class ReferenceService:
    def __init__(self, store: ReferenceStore) -> None:
        self._store = store

    def list_active(self, tenant_id: str, kind: RefKind) -> list[ReferenceItem]:
        return self._store.list_active(tenant_id, kind)

    def get_active(self, tenant_id: str, kind: RefKind, ref_id: str) -> ReferenceItem | None:
        """The active item of that id, or None (unknown, deleted, or another tenant's)."""
        found = self._store.get_items(tenant_id, kind, [ref_id]).get(ref_id)
        return found if found is not None and found.active else None

    def create(
        self,
        tenant_id: str,
        kind: RefKind,
        entries: list[NewReference],
        actor: Actor,
        command_id: str | None = None,
    ) -> list[ReferenceItem]:
        _check_size(entries)
        items = [
            ReferenceItem(
                tenant_id=tenant_id,
                kind=kind,
                ref_id=deterministic_id(command_id, i) if command_id else new_id(),
                label=entry.label,
                data=entry.data,
                heat_code=entry.heat_code,
            )
            for i, entry in enumerate(entries)
        ]
        self._check_rules(tenant_id, kind, items)
        _check_unique_heat_codes(items)
        if command_id:
            existing = self._store.get_items(tenant_id, kind, [i.ref_id for i in items])
            if existing:
                # A retry of a command that already ran: answer with what it made.
                return [existing[i.ref_id] for i in items if i.ref_id in existing]
        self._store.create_items(items, actor)
        return items

    def update(
        self, tenant_id: str, kind: RefKind, updates: list[ReferenceUpdate], actor: Actor
    ) -> list[ReferenceItem]:
        _check_size(updates)
        previous = self._existing(tenant_id, kind, [u.ref_id for u in updates])
        pairs: list[tuple[ReferenceItem, ReferenceItem]] = []
        for index, update in enumerate(updates):
            old = previous[update.ref_id]
            if update.expected_version is not None and update.expected_version != old.version:
                raise StaleVersion(
                    f"{update.ref_id} is at version {old.version}, not {update.expected_version}",
                    [problem("version", f"current version is {old.version}", index)],
                )
            new = old.model_copy(
                update={
                    "label": update.label if update.label is not None else old.label,
                    "data": {**old.data, **update.data},
                    "heat_code": update.heat_code if update.heat_code is not None else old.heat_code,
                    "version": old.version + 1,
                    "updated_at": utcnow(),
                }
            )
            pairs.append((new, old))
        self._check_rules(tenant_id, kind, [new for new, _ in pairs])
        _check_unique_heat_codes([new for new, _ in pairs])
        self._store.update_items(pairs, actor)
        return [new for new, _ in pairs]

    def delete(self, tenant_id: str, kind: RefKind, ids: list[str], actor: Actor) -> list[str]:
        """Soft-delete every id, or none: an unknown or already deleted id is a 404."""
        _check_size(ids)
        previous = self._existing(tenant_id, kind, ids)
        now = utcnow()
        pairs = [
            (old.model_copy(update={"active": False, "version": old.version + 1, "updated_at": now}), old)
            for old in (previous[i] for i in dict.fromkeys(ids))
        ]
        self._store.update_items(pairs, actor)
        return list(dict.fromkeys(ids))

    def resolve(self, tenant_id: str, wanted: Iterable[RefKey]) -> dict[RefKey, Resolved]:
        """Labels of many references of any kind, in one batched read."""
        keys = {(kind, ref) for kind, ref in wanted if ref}
        return self._store.lookup(tenant_id, keys) if keys else {}

    def _existing(self, tenant_id: str, kind: RefKind, ids: list[str]) -> dict[str, ReferenceItem]:
        if len(set(ids)) != len(ids):
            duplicate = next(i for i in ids if ids.count(i) > 1)
            raise ValidationFailed(f"id {duplicate} appears twice", [problem("id", "duplicate", ids.index(duplicate))])
        found = {k: v for k, v in self._store.get_items(tenant_id, kind, ids).items() if v.active}
        missing = [(index, i) for index, i in enumerate(ids) if i not in found]
        if missing:
            raise NotFound(
                f"{kind.value} {missing[0][1]} not found",
                [problem("id", f"{ref_id} not found", index) for index, ref_id in missing],
            )
        return found

    def _check_rules(self, tenant_id: str, kind: RefKind, items: list[ReferenceItem]) -> None:
        if kind == RefKind.MILL_CERTIFICATION:
            self._check_suppliers(tenant_id, items)
        if kind != RefKind.TAG_RULE:
            return
        errors = [
            problem(str(e["field"]), str(e["message"]), index)
            for index, item in enumerate(items)
            for e in tags.validate(item.data.get("condition"), "condition")
        ]
        if errors:
            raise ValidationFailed(f"invalid tag rule: {errors[0].at.path}", errors)
        found = self.resolve(tenant_id, {(RefKind.TAG.value, item.data.get("tag_id", "")) for item in items})
        unknown = [
            problem("tagId", f"tag {item.data.get('tag_id')} not found", index)
            for index, item in enumerate(items)
            if not _active(found.get((RefKind.TAG.value, item.data.get("tag_id", ""))))
        ]
        if unknown:
            raise UnknownReference(f"unknown tag: {unknown[0].at.path}", unknown)

    def _check_suppliers(self, tenant_id: str, items: list[ReferenceItem]) -> None:
        """A certificate's supplierId must be an organisation of this company."""
        wanted = {(RefKind.ORGANISATION.value, str(i.data["supplier_id"])) for i in items if i.data.get("supplier_id")}
        found = self.resolve(tenant_id, wanted)
        unknown = [
            problem("supplierId", f"{item.data['supplier_id']} not found", index)
            for index, item in enumerate(items)
            if item.data.get("supplier_id")
            and not _active(found.get((RefKind.ORGANISATION.value, str(item.data["supplier_id"]))))
        ]
        if unknown:
            raise UnknownReference(f"unknown supplier: {unknown[0].at.path}", unknown)


def _active(resolved: Resolved | None) -> bool:
    return resolved is not None and resolved.active


def _check_size(entries: list[Any]) -> None:
    if not entries:
        raise ValidationFailed("at least one entry is required", [{"field": "body", "message": "empty"}])
    if len(entries) > MAX_BATCH:
        raise ValidationFailed(
            f"at most {MAX_BATCH} entries per request", [{"field": "body", "message": f"more than {MAX_BATCH}"}]
        )


def _check_unique_heat_codes(items: list[ReferenceItem]) -> None:
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.heat_code is None:
            continue
        code = item.heat_code.casefold()
        if code in seen:
            raise ValidationFailed(
                f"heat code {item.heat_code} appears twice",
                [Problem(At("heatCode", index), "same as", same_as=At(index=seen[code]))],
            )
        seen[code] = index
