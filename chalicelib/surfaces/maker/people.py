"""Extensions of the 002 surface: the company's users (task assignees) and custom statuses."""

from __future__ import annotations

from typing import Any

from chalicelib.features.production import StatusEffect
from chalicelib.http.routing import Call, Reply, endpoint
from chalicelib.surfaces.maker import maker
from chalicelib.surfaces.maker.common import (
    ADJUST,
    ADMIN,
    BASE,
    EXTENSION,
    INVENTORY_READ,
    PAGING,
    TAG_PEOPLE,
    TASKS_READ,
    PageQuery,
    page_example,
    page_of,
)
from chalicelib.surfaces.maker.models import (
    CustomStatusCreate,
    CustomStatusOut,
    CustomStatusPage,
    UserCreate,
    UserOut,
    UserPage,
    status_out,
    user_out,
)
from chalicelib.wiring import production_service, user_service

USERS = f"{BASE}/users"
STATUSES = f"{BASE}/custom-statuses"
USER = {"id": "5e0c2b7a-9f1d-4a8e-b6c3-1d2e3f4a5b6c", "email": "sam@example.com", "name": "Sam Maker"}
STATUS = {"id": 1, "name": "Gifted", "effect": "subtract"}


@endpoint(
    maker,
    USERS,
    "GET",
    permissions=TASKS_READ,
    summary="Get Users",
    tag=TAG_PEOPLE,
    query=PageQuery,
    response=UserPage,
    extension=True,
    response_example=page_example(USER, total=1),
    description=(
        f"{EXTENSION}The company's people that tasks are assigned to (`Assignee`, `UserId`): `id`, `email`, "
        f"`name`. {PAGING} Permission: tasks.read."
    ),
)
def list_users(call: Call) -> dict[str, Any]:
    query: PageQuery = call.query
    found = user_service().page(call.tenant_id, query.offset, query.limit)
    return page_of(found, user_out, query)


@endpoint(
    maker,
    USERS,
    "POST",
    permissions=ADMIN,
    summary="Create User",
    tag=TAG_PEOPLE,
    body=UserCreate,
    response=UserOut,
    status=201,
    extension=True,
    example={"email": "sam@example.com", "name": "Sam Maker"},
    response_example=USER,
    description=(
        f"{EXTENSION}Adds a person to the company. The email must look like one and belongs to one user of the "
        "company (any case: 409 when taken). A user is not a credential: API keys act for the company. 201 with "
        "the user. Permission: admin."
    ),
)
def create_user(call: Call) -> Reply:
    body: UserCreate = call.body
    return Reply(body=user_out(user_service().create(call.tenant_id, body.email, body.name, call.actor)))


@endpoint(
    maker,
    STATUSES,
    "GET",
    permissions=INVENTORY_READ,
    summary="Get Custom Statuses",
    tag=TAG_PEOPLE,
    query=PageQuery,
    response=CustomStatusPage,
    extension=True,
    response_example=page_example(STATUS, total=1),
    description=(
        f"{EXTENSION}The statuses a stock-level update of `updateType: custom` names by `customStatusId`: numeric "
        f"`id`, `name` and `effect` (set, add or subtract). {PAGING} Permission: inventory.read."
    ),
)
def list_statuses(call: Call) -> dict[str, Any]:
    query: PageQuery = call.query
    found = production_service().status_page(call.tenant_id, query.offset, query.limit)
    return page_of(found, status_out, query)


@endpoint(
    maker,
    STATUSES,
    "POST",
    permissions=ADJUST,
    summary="Create Custom Status",
    tag=TAG_PEOPLE,
    body=CustomStatusCreate,
    response=CustomStatusOut,
    status=201,
    extension=True,
    example={"name": "Gifted", "effect": "subtract"},
    response_example=STATUS,
    description=(
        f"{EXTENSION}A custom status: `name` (unique in the company, any case: 409 when taken) and `effect`: "
        "`set` (the update's quantity becomes the stock, like an audit), `add` (like a restock) or `subtract` "
        "(like a loss). Ids are numbered 1, 2, ... 201 with the status. Permission: inventory.adjust."
    ),
)
def create_status(call: Call) -> Reply:
    body: CustomStatusCreate = call.body
    status = production_service().create_status(call.tenant_id, body.name, StatusEffect(body.effect), call.actor)
    return Reply(body=status_out(status))
