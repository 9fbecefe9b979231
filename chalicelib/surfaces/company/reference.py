"""000 reference data routes: list, create, update and soft-delete for each kind.

`inventory-types`, `inventory-materials`, `organisations`, `mill-certifications`,
`tags` and `tag-rules` are core reference items; `stock-locations` are core
Locations, so the places the 000 surface names are the places every other
surface uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from chalicelib.core.bodies import Body, Email
from chalicelib.core.catalog.service import LocationChange
from chalicelib.core.errors import DomainError
from chalicelib.core.ids import Id, UniqueIds
from chalicelib.core.limits import TRANSACTION_ITEMS
from chalicelib.core.models import Location, Model
from chalicelib.core.reference.service import MAX_BATCH, NewReference, ReferenceItem, ReferenceUpdate, RefKind
from chalicelib.core.tenancy.permissions import Permission
from chalicelib.core.values import IsoDateText, Version
from chalicelib.http.routing import Call, Handler, endpoint
from chalicelib.surfaces.company import company
from chalicelib.surfaces.company.common import PREFIX, TAG_REFERENCE
from chalicelib.surfaces.company.models import DeleteResult
from chalicelib.wiring import catalog_service, reference_service

Name = Field(min_length=1, max_length=200)
OrganisationType = Literal["supplier", "customer", "both"]
# Documented body field -> core `data` key, for the kind-specific fields.
DATA_FIELDS = {
    "organisationType": "organisation_type",
    "email": "email",
    "phone": "phone",
    "certificateNumber": "certificate_number",
    "supplierId": "supplier_id",
    "issuedDate": "issued_date",
    "documentUrl": "document_url",
    "color": "color",
    "tagId": "tag_id",
    "condition": "condition",
    "description": "description",
}


class Strict(Body):
    # Server-owned fields of the answers (companyId, createdAt, ...) sent back by clients are ignored;
    # any other unknown field is a 400.
    read_only = frozenset({"id", "companyId", "active", "createdAt", "updatedAt", "isDefault", "version"})


class Labelled(Strict):
    label: str = Name
    description: str | None = Field(None, max_length=1000)


class Organisation(Strict):
    name: str = Name
    organisationType: OrganisationType | None = Field(None, description="supplier, customer, or both")
    email: Email | None = None
    phone: str | None = Field(None, max_length=50)


class MillCertification(Strict):
    heatCode: str = Field(min_length=1, max_length=100, description="Links the certificate to inventory")
    certificateNumber: str | None = Field(None, max_length=100)
    supplierId: Id | None = None
    issuedDate: IsoDateText | None = None
    documentUrl: str | None = Field(None, max_length=2000)


class Tag(Strict):
    name: str = Name
    color: str | None = Field(None, max_length=30)


class TagRule(Strict):
    tagId: Id
    name: str | None = Field(None, max_length=200)
    condition: dict[str, Any] = Field(description="Condition tree: all/any, or {field, op, value}")


class Update(Strict):
    id: Id
    version: Version | None = Field(None)


class LabelledUpdate(Update):
    label: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=1000)


class OrganisationUpdate(Update):
    name: str | None = Field(None, min_length=1, max_length=200)
    organisationType: OrganisationType | None = Field(None, description="supplier, customer, or both")
    email: Email | None = None
    phone: str | None = Field(None, max_length=50)


class MillCertificationUpdate(Update):
    heatCode: str | None = Field(None, min_length=1, max_length=100)
    certificateNumber: str | None = Field(None, max_length=100)
    supplierId: Id | None = None
    issuedDate: IsoDateText | None = None
    documentUrl: str | None = Field(None, max_length=2000)


class TagUpdate(Update):
    name: str | None = Field(None, min_length=1, max_length=200)
    color: str | None = Field(None, max_length=30)


class TagRuleUpdate(Update):
    tagId: Id | None = None
    name: str | None = Field(None, max_length=200)
    condition: dict[str, Any] | None = None


# -- answers (documentation: the handlers build them with reference_out / location_out) ------------


class Owned(Model):
    id: str = Field(description="The entry's id: what inventory items, orders and other entries point at")
    companyId: str
    active: bool = Field(description="false once deleted (deleted entries are listed no more)")
    createdAt: datetime
    updatedAt: datetime
    version: int = Field(description="Send it back on updates; a stale one is a 409")


class LabelledOut(Owned):
    label: str
    description: str | None = None


class StockLocationOut(Owned):
    label: str
    isDefault: bool = Field(description="The company's default location, where items without one go")


class OrganisationOut(Owned):
    name: str
    organisationType: OrganisationType | None = None
    email: str | None = None
    phone: str | None = None


class MillCertificationOut(Owned):
    heatCode: str
    certificateNumber: str | None = None
    supplierId: str | None = Field(None, description="An organisation id of this company")
    issuedDate: str | None = None
    documentUrl: str | None = Field(None, description="Where the PDF is; set by the document upload route")


class TagOut(Owned):
    name: str
    color: str | None = None


class TagRuleOut(Owned):
    name: str
    tagId: str = Field(description="The tag (id) the rule assigns")
    condition: dict[str, Any]


class Ids(Body):
    ids: UniqueIds = Field(min_length=1, max_length=MAX_BATCH)


@dataclass(frozen=True)
class Kind:
    segment: str
    kind: RefKind | None  # None: stock locations (core Locations)
    label_field: str  # "label" or "name"
    create: type[BaseModel]
    update: type[BaseModel]
    out: type[BaseModel]

    @property
    def title(self) -> str:
        return self.segment.replace("-", " ")


KINDS = [
    Kind("inventory-types", RefKind.TYPE, "label", Labelled, LabelledUpdate, LabelledOut),
    Kind("inventory-materials", RefKind.MATERIAL, "label", Labelled, LabelledUpdate, LabelledOut),
    Kind("organisations", RefKind.ORGANISATION, "name", Organisation, OrganisationUpdate, OrganisationOut),
    Kind(
        "mill-certifications",
        RefKind.MILL_CERTIFICATION,
        "heatCode",
        MillCertification,
        MillCertificationUpdate,
        MillCertificationOut,
    ),
    Kind("tags", RefKind.TAG, "name", Tag, TagUpdate, TagOut),
    Kind("tag-rules", RefKind.TAG_RULE, "name", TagRule, TagRuleUpdate, TagRuleOut),
    Kind("stock-locations", None, "label", Labelled, LabelledUpdate, StockLocationOut),
]


# -- translation -------------------------------------------------------------


def _data(model: BaseModel) -> dict[str, Any]:
    sent = model.model_fields_set
    return {core: getattr(model, doc) for doc, core in DATA_FIELDS.items() if doc in sent and hasattr(model, doc)}


def _label(kind: Kind, model: BaseModel) -> str | None:
    if kind.kind == RefKind.MILL_CERTIFICATION:
        return getattr(model, "certificateNumber", None) or getattr(model, "heatCode", None)
    if kind.kind == RefKind.TAG_RULE:
        return getattr(model, "name", None) or getattr(model, "tagId", None)
    value = getattr(model, kind.label_field, None)
    return str(value) if value is not None else None


def _new(kind: Kind, model: BaseModel) -> NewReference:
    heat = getattr(model, "heatCode", None) if kind.kind == RefKind.MILL_CERTIFICATION else None
    return NewReference(label=_label(kind, model) or "", data=_data(model), heat_code=heat)


def _update(kind: Kind, model: Any) -> ReferenceUpdate:
    heat = getattr(model, "heatCode", None) if kind.kind == RefKind.MILL_CERTIFICATION else None
    return ReferenceUpdate(
        ref_id=model.id, label=_label(kind, model), data=_data(model), heat_code=heat, expected_version=model.version
    )


def reference_out(kind: Kind, item: ReferenceItem) -> dict[str, Any]:
    out: dict[str, Any] = {"id": item.ref_id, "companyId": item.tenant_id}
    if kind.kind == RefKind.MILL_CERTIFICATION:
        out["heatCode"] = item.heat_code
    elif kind.kind == RefKind.TAG_RULE:
        out["name"] = item.data.get("name") or item.label
    else:
        out[kind.label_field] = item.label
    core_to_doc = {core: doc for doc, core in DATA_FIELDS.items()}
    out.update({core_to_doc.get(k, k): v for k, v in item.data.items() if k != "name"})
    out.update(active=item.active, createdAt=item.created_at, updatedAt=item.updated_at, version=item.version)
    return out


def location_out(location: Location) -> dict[str, Any]:
    return {
        "id": location.location_id,
        "companyId": location.tenant_id,
        "label": location.name,
        "isDefault": location.is_default,
        "active": location.active,
        "createdAt": location.created_at,
        "updatedAt": location.updated_at,
        "version": location.version,
    }


# -- handlers ------------------------------------------------------------------


def _list(kind: Kind) -> Handler:
    def handler(call: Call) -> list[dict[str, Any]]:
        tenant = call.tenant_id
        if kind.kind is None:
            return [location_out(loc) for loc in catalog_service().active_locations(tenant)]
        return [reference_out(kind, item) for item in reference_service().list_active(tenant, kind.kind)]

    return handler


def _create(kind: Kind) -> Handler:
    def handler(call: Call) -> list[dict[str, Any]]:
        tenant = call.tenant_id
        if kind.kind is None:
            return [location_out(loc) for loc in _create_locations(tenant, call.body, call)]
        entries = [_new(kind, model) for model in call.body]
        created = reference_service().create(tenant, kind.kind, entries, call.actor, call.command_id)
        return [reference_out(kind, item) for item in created]

    return handler


def _put(kind: Kind) -> Handler:
    def handler(call: Call) -> list[dict[str, Any]]:
        tenant = call.tenant_id
        if kind.kind is None:
            return [location_out(loc) for loc in _update_locations(tenant, call.body, call)]
        updates = [_update(kind, model) for model in call.body]
        return [
            reference_out(kind, item) for item in reference_service().update(tenant, kind.kind, updates, call.actor)
        ]

    return handler


def _delete(kind: Kind) -> Handler:
    def handler(call: Call) -> DeleteResult:
        tenant = call.tenant_id
        ids: list[str] = call.body.ids
        if kind.kind is None:
            deleted = _delete_locations(tenant, ids, call)
        else:
            deleted = reference_service().delete(tenant, kind.kind, ids, call.actor)
        return DeleteResult(deletedCount=len(deleted), deletedIds=deleted)

    return handler


# -- stock locations: core Locations -------------------------------------------

# Core location field -> documented stock-location field, for errors.
LOCATION_FIELDS = {"name": "label"}


def _stock_locations(call: Callable[[], Any]) -> Any:
    """Run a catalog call; its errors name the documented fields (`[i].label`, not `[i].name`)."""
    try:
        return call()
    except DomainError as exc:
        exc.problems = [replace(p, at=p.at.of(LOCATION_FIELDS.get(p.at.field, p.at.field))) for p in exc.problems]
        raise


def _create_locations(tenant: str, models: list[Labelled], call: Call) -> list[Location]:
    entries = [{"name": m.label} for m in models]
    created: list[Location] = _stock_locations(lambda: catalog_service().create_locations(tenant, entries, call.actor))
    return created


def _update_locations(tenant: str, models: list[LabelledUpdate], call: Call) -> list[Location]:
    changes = [LocationChange(m.id, {"name": m.label} if m.label else {}, m.version) for m in models]
    updated: list[Location] = _stock_locations(lambda: catalog_service().update_locations(tenant, changes, call.actor))
    return updated


def _delete_locations(tenant: str, ids: list[str], call: Call) -> list[str]:
    deleted: list[str] = _stock_locations(lambda: catalog_service().delete_locations(tenant, ids, call.actor))
    return deleted


# -- routes --------------------------------------------------------------------


# What the stock-location routes add to the shared descriptions (CatalogService's location batches).
LOCATION_NOTES = {
    "GET": " Every company has one default location (`isDefault: true`, made with the company), where an "
    "inventory item created without a stockLocationId goes.",
    "POST": " Labels are unique in the company (any case): a label in use or repeated in the request is a 409 "
    "naming `[index].label`. All entries commit in one transaction.",
    "PUT": " A new label must be free (409 naming `[index].label`). All entries commit in one transaction, "
    f"which holds {TRANSACTION_ITEMS} writes: an entry takes one, a rename two more (so at most 33 renames "
    "per request; more is a 400). The default location can be renamed.",
    "DELETE": " All entries commit in one transaction. The default location cannot be deleted: 409 naming "
    "`[index].id`. A deleted location keeps its label taken.",
}


def _declare(kind: Kind) -> None:
    path = f"{PREFIX}/{kind.segment}"
    where = "core stock locations, shared with every surface" if kind.kind is None else "reference data"
    notes = LOCATION_NOTES if kind.kind is None else {}
    routes: list[tuple[str, Callable[[Kind], Handler], dict[str, Any]]] = [
        (
            "GET",
            _list,
            {
                "permissions": [Permission.INVENTORY_READ],
                "summary": f"List {kind.title}",
                "response": list[kind.out],  # type: ignore[name-defined]
                "description": f"Active {kind.title} ({where}). Permission: inventory.read." + notes.get("GET", ""),
            },
        ),
        (
            "POST",
            _create,
            {
                "permissions": [Permission.INVENTORY_WRITE],
                "summary": f"Create {kind.title}",
                "body": list[kind.create],  # type: ignore[name-defined]
                "response": list[kind.out],  # type: ignore[name-defined]
                "status": 201,
                "description": (
                    f"A JSON array of up to {MAX_BATCH}; every entry is validated first and one bad entry "
                    "writes nothing. Each returned object carries its `id`. Permission: inventory.write."
                    + notes.get("POST", "")
                ),
            },
        ),
        (
            "PUT",
            _put,
            {
                "permissions": [Permission.INVENTORY_WRITE],
                "summary": f"Update {kind.title}",
                "body": list[kind.update],  # type: ignore[name-defined]
                "response": list[kind.out],  # type: ignore[name-defined]
                "description": (
                    "A JSON array, each entry with its `id`; only the fields sent change. Send `version` to "
                    "guard against lost updates (409 when stale). Unknown ids, or ids of another company, are "
                    "a 404 and nothing changes. Permission: inventory.write." + notes.get("PUT", "")
                ),
            },
        ),
        (
            "DELETE",
            _delete,
            {
                "permissions": [Permission.INVENTORY_WRITE],
                "summary": f"Delete {kind.title}",
                "body": Ids,
                "response": DeleteResult,
                "description": (
                    'Soft delete of every id in `{"ids": [...]}`; an unknown id is a 404 and nothing is '
                    "deleted. Items that point at a deleted entry keep it (and its label); new writes cannot "
                    "point at it. Permission: inventory.write." + notes.get("DELETE", "")
                ),
            },
        ),
    ]
    for method, make, options in routes:
        handler = make(kind)
        handler.__name__ = f"{method.lower()}_{kind.segment.replace('-', '_')}"
        endpoint(company, path, method, tag=TAG_REFERENCE, company_param="companyId", **options)(handler)


for _kind in KINDS:
    _declare(_kind)
