"""A company's default location, and the entry of a location batch update.

Every company has exactly one default location, where stock without a
location goes (the 000 item without stockLocationId, the 002 `isDefault`
location, the 004 `warehouseId` 0). It is written in the same transaction
as the company itself (TenantService.create_tenant), under a key known
from the company alone (`default_location_id`), so one GetItem finds it.
A company created before default locations existed gets its default on
first need (`ensure_default_location`); two first requests at once both
end up with the same location. The default can be renamed, never deleted.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.core.errors import (
    AlreadyExists,
    InvalidState,
)
from chalicelib.core.models import (
    Actor,
    Location,
)
from chalicelib.core.ports import CatalogStore

DEFAULT_LOCATION_NAME = "Default"
# Names tried, in order, when an older company already has a location named "Default".
DEFAULT_LOCATION_NAMES = (DEFAULT_LOCATION_NAME, "Default location", "Default stock location")
DEFAULT_LOCATION_NAMESPACE = uuid.UUID("9d1c5e3a-4b7f-4e2a-8c6d-0f3b2a1e5d47")


def default_location_id(tenant_id: str) -> str:
    """The id of the company's default location: known from the company alone, so one read finds it."""
    return str(uuid.uuid5(DEFAULT_LOCATION_NAMESPACE, tenant_id))


def default_location(tenant_id: str, name: str = DEFAULT_LOCATION_NAME) -> Location:
    return Location(tenant_id=tenant_id, location_id=default_location_id(tenant_id), name=name, is_default=True)


def ensure_default_location(store: CatalogStore, tenant_id: str, actor: Actor) -> Location:
    """The company's default location, written now if the company predates default locations.

    Safe under a race: the location is created with `attribute_not_exists`,
    so of two first requests one writes it and the other reads it back. If
    an older company already uses the name "Default", the next free name of
    DEFAULT_LOCATION_NAMES is taken.
    """
    location_id = default_location_id(tenant_id)
    found = store.get_location(tenant_id, location_id)
    if found is not None:
        return found
    for name in DEFAULT_LOCATION_NAMES:
        location = default_location(tenant_id, name)
        try:
            store.write_locations([location], [], actor)
        except AlreadyExists:
            found = store.get_location(tenant_id, location_id)
            if found is not None:
                return found  # another request made it first
            continue  # the name is one of the company's own locations
        return location
    raise InvalidState(f"no free name for the default location of {tenant_id}")


@dataclass(frozen=True)
class LocationChange:
    """One entry of a location batch update: the fields to set, and the version the client read."""

    location_id: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    expected_version: int | None = None
