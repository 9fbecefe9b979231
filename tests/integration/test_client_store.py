"""OAuth2 clients and token-request counters in DynamoDB (moto), with the in-memory fake held to the same contract."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from chalicelib.core.errors import AlreadyExists, NotFound
from chalicelib.core.models import SYSTEM, Actor
from chalicelib.core.tenancy.clients import ClientService, ClientStore, InvalidClient
from chalicelib.settings import get_settings
from chalicelib.storage import keys
from chalicelib.storage.aws import client
from chalicelib.storage.client_repo import DynamoClientStore
from chalicelib.storage.codec import to_attrs
from tests.fakes import InMemoryClientStore

pytestmark = pytest.mark.shared_aws
ADMIN = Actor(id="key:admin", name="Admin")


@pytest.fixture(params=["fake", "dynamo"])
def store(request: pytest.FixtureRequest) -> ClientStore:
    if request.param == "fake":
        return InMemoryClientStore()
    table = request.getfixturevalue("table")
    return DynamoClientStore(table, get_settings().idempotency_table)


def a_tenant() -> str:
    return str(uuid.uuid4())


def test_given_a_client_when_stored_then_it_is_read_listed_and_revoked(store: ClientStore) -> None:
    service = ClientService(store, rate_limit=5)
    tenant = a_tenant()
    created, secret = service.create_client(tenant, "sync", ["inventory.read"], ADMIN, None)

    assert store.get_client(tenant, created.client_id) == created
    assert store.get_client(a_tenant(), created.client_id) is None
    assert [c.client_id for c in store.list_clients(tenant)] == [created.client_id]
    assert store.list_clients(a_tenant()) == []
    assert service.authenticate_client(created.client_id, secret).client_id == created.client_id
    with pytest.raises(AlreadyExists):
        store.put_client(created, ADMIN)

    revoked = store.revoke_client(tenant, created.client_id, ADMIN)

    assert revoked.revoked and revoked.version == created.version + 1
    stored = store.get_client(tenant, created.client_id)
    assert stored is not None and stored.revoked
    with pytest.raises(InvalidClient):
        service.authenticate_client(created.client_id, secret)
    with pytest.raises(NotFound):
        store.revoke_client(a_tenant(), created.client_id, SYSTEM)


def test_given_a_limit_then_the_counter_refuses_beyond_it_per_client_and_window(store: ClientStore) -> None:
    tenant = a_tenant()

    assert [store.count_token_request(tenant, "sc_a", 600, 2) for _ in range(3)] == [True, True, False]
    assert store.count_token_request(tenant, "sc_a", 660, 2)  # the next minute
    assert store.count_token_request(tenant, "sc_b", 600, 2)  # another client


def test_given_a_counter_then_it_expires_after_its_minute(table: str) -> None:
    store = DynamoClientStore(table, get_settings().idempotency_table)
    tenant = a_tenant()
    store.count_token_request(tenant, "sc_a", 600, 2)

    item: dict[str, Any] = client("dynamodb").get_item(
        TableName=get_settings().idempotency_table, Key=to_attrs(keys.oauth_token_requests(tenant, "sc_a", 600))
    )["Item"]

    assert item["requests"] == {"N": "1"}
    assert item["expires_at"] == {"N": str(600 + 60 + 120)}


def test_given_a_stored_client_then_the_item_holds_the_hash_and_never_the_secret(table: str) -> None:
    service = ClientService(DynamoClientStore(table, get_settings().idempotency_table), rate_limit=5)
    tenant = a_tenant()
    created, secret = service.create_client(tenant, "sync", ["inventory.read"], ADMIN, None)

    item = client("dynamodb").get_item(TableName=table, Key=to_attrs(keys.oauth_client(tenant, created.client_id)))[
        "Item"
    ]

    assert secret not in str(item)
    assert item["secret_hash"]["S"].startswith("scrypt$")
    assert item["pk"]["S"] == f"T#{tenant}#OAUTHCLIENT"
