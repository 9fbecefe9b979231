"""Tenants and API keys in DynamoDB (moto), with the in-memory fake held to the same contract."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest

from chalicelib.core.catalog.service import default_location
from chalicelib.core.errors import AlreadyExists, NotFound, Unauthenticated, ValidationFailed
from chalicelib.core.ids import new_id
from chalicelib.core.models import SYSTEM, Actor, ApiKey, Tenant
from chalicelib.core.ports import TenantStore
from chalicelib.core.tenancy.tenants import TenantService, parse_key
from chalicelib.storage import keys
from chalicelib.storage.aws import client
from chalicelib.storage.codec import to_attrs
from chalicelib.storage.tenant_repo import DynamoTenantStore
from tests.fakes import InMemoryTenantStore

ADMIN = Actor(id="user:admin", name="Admin")


@pytest.fixture(params=["fake", "dynamo"])
def store(request: pytest.FixtureRequest) -> TenantStore:
    if request.param == "fake":
        return InMemoryTenantStore()
    return DynamoTenantStore(request.getfixturevalue("table"))


@pytest.fixture
def service(store: TenantStore) -> TenantService:
    return TenantService(store)


def stored_item(table: str, tenant_id: str, key_id: str) -> dict[str, Any]:
    item: dict[str, Any] = client("dynamodb").get_item(
        TableName=table, Key=to_attrs(keys.api_key(tenant_id, key_id)), ConsistentRead=True
    )["Item"]
    return item


def test_given_new_tenant_when_stored_then_tenant_and_first_key_can_be_read(
    service: TenantService, store: TenantStore
) -> None:
    tenant, raw = service.create_tenant("Acme")
    _, key_id, _ = parse_key(raw)

    assert store.get_tenant(tenant.tenant_id) == tenant
    key = store.get_key(tenant.tenant_id, key_id)
    assert key is not None
    assert (key.tenant_id, key.name, key.revoked) == (tenant.tenant_id, "initial key", False)
    assert tenant.tenant_id in set(store.list_tenant_ids())
    assert store.get_tenant(new_id()) is None
    assert store.get_key(new_id(), key_id) is None


def test_given_keys_when_authenticating_then_valid_ones_pass_and_the_rest_are_refused(service: TenantService) -> None:
    tenant, raw = service.create_tenant("Acme", permissions=["inventory.read", "orders.write"])
    principal = service.authenticate(raw)
    assert (principal.tenant_id, principal.permissions) == (
        tenant.tenant_id,
        frozenset({"inventory.read", "orders.write"}),
    )

    hex_tenant, key_id, secret = raw.split("_")[1:]
    refused = [
        f"sr_{hex_tenant}_{key_id}_{secret[:-1]}{'0' if secret[-1] != '0' else '1'}",
        f"sr_{hex_tenant}_{'0' * 16}_{secret}",
        f"sr_{uuid.uuid4().hex}_{key_id}_{secret}",
        raw.replace("sr_", "sk_", 1),
        f"{raw}_extra",
        "not a key",
    ]
    for candidate in refused:
        with pytest.raises(Unauthenticated):
            service.authenticate(candidate)


def test_given_revoked_key_when_authenticating_then_refused_while_other_keys_work(
    service: TenantService, store: TenantStore
) -> None:
    tenant, first = service.create_tenant("Acme")
    second_key, second = service.issue_key(tenant.tenant_id, "ci", ["inventory.read"], ADMIN)
    _, first_id, _ = parse_key(first)

    revoked = service.revoke_key(tenant.tenant_id, first_id, ADMIN)

    assert (revoked.revoked, revoked.version) == (True, 2)
    with pytest.raises(Unauthenticated):
        service.authenticate(first)
    assert service.authenticate(second).key_id == second_key.key_id
    assert {(k.key_id, k.revoked) for k in store.list_keys(tenant.tenant_id)} == {
        (first_id, True),
        (second_key.key_id, False),
    }
    with pytest.raises(NotFound):
        service.revoke_key(tenant.tenant_id, "0" * 16, ADMIN)


def test_given_keys_of_two_tenants_when_listing_then_each_sees_only_its_own(service: TenantService) -> None:
    a, _ = service.create_tenant("A")
    b, _ = service.create_tenant("B")
    service.issue_key(a.tenant_id, "extra", ["admin"], ADMIN)

    assert len(service.list_keys(a.tenant_id)) == 2
    assert len(service.list_keys(b.tenant_id)) == 1
    assert {k.tenant_id for k in service.list_keys(b.tenant_id)} == {b.tenant_id}


def test_given_unknown_permission_when_issuing_then_validation_failed_and_nothing_stored(
    service: TenantService,
) -> None:
    tenant, _ = service.create_tenant("Acme")
    with pytest.raises(ValidationFailed):
        service.issue_key(tenant.tenant_id, "bad", ["inventory.fly"], ADMIN)
    assert len(service.list_keys(tenant.tenant_id)) == 1


def test_given_existing_tenant_or_key_when_creating_again_then_already_exists(store: TenantStore) -> None:
    tenant = Tenant(tenant_id=new_id(), name="Acme")
    key = ApiKey(tenant_id=tenant.tenant_id, key_id="k1", name="k", key_hash="h", permissions=["admin"])
    store.create_tenant(tenant, key, SYSTEM, default_location(tenant.tenant_id))

    with pytest.raises(AlreadyExists):
        store.create_tenant(tenant, key.model_copy(update={"key_id": "k2"}), SYSTEM, default_location(tenant.tenant_id))
    with pytest.raises(AlreadyExists):
        store.put_key(key.model_copy(update={"name": "replacement"}), SYSTEM)

    assert store.get_key(tenant.tenant_id, "k2") is None
    stored = store.get_key(tenant.tenant_id, "k1")
    assert stored is not None
    assert stored.name == "k"


def test_given_stored_key_item_when_read_raw_then_it_holds_the_hash_never_the_secret(table: str) -> None:
    service = TenantService(DynamoTenantStore(table))
    tenant, raw = service.create_tenant("Acme")
    _, key_id, secret = parse_key(raw)

    item = stored_item(table, tenant.tenant_id, key_id)

    assert item["key_hash"]["S"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(item)
    # Stamped for the audit stream: who wrote it and what it is.
    assert (item["entity_type"]["S"], item["changed_by_id"]["S"]) == ("apiKey", SYSTEM.id)
    assert item["pk"]["S"].startswith(f"T#{tenant.tenant_id}")
