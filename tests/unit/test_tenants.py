"""TenantService against the in-memory store: key format, hashing, authentication."""

from __future__ import annotations

import hashlib
import re
import uuid

import pytest

from chalicelib.core.errors import Forbidden, NotFound, Unauthenticated, ValidationFailed
from chalicelib.core.models import Actor
from chalicelib.core.tenancy.permissions import ALL_PERMISSIONS, Permission
from chalicelib.core.tenancy.tenants import TenantService, parse_key
from tests.fakes import InMemoryTenantStore

ADMIN = Actor(id="user:admin", name="Admin")
KEY_FORMAT = re.compile(r"^sr_(?P<tenant>[0-9a-f]{32})_(?P<key_id>[0-9a-f]{16})_(?P<secret>[0-9a-f]{64})$")


@pytest.fixture
def store() -> InMemoryTenantStore:
    return InMemoryTenantStore()


@pytest.fixture
def service(store: InMemoryTenantStore) -> TenantService:
    return TenantService(store)


def test_given_name_when_creating_tenant_then_key_reads_sr_tenant_keyid_secret(
    service: TenantService, store: InMemoryTenantStore
) -> None:
    tenant, raw = service.create_tenant("  Acme  ")

    match = KEY_FORMAT.match(raw)
    assert match is not None, raw
    assert match["tenant"] == uuid.UUID(tenant.tenant_id).hex
    assert tenant.name == "Acme"
    assert service.get_tenant(tenant.tenant_id) == tenant
    assert list(service.tenant_ids()) == [tenant.tenant_id]
    [key] = store.list_keys(tenant.tenant_id)
    assert key.key_id == match["key_id"]
    assert set(key.permissions) == ALL_PERMISSIONS


def test_given_new_key_when_stored_then_only_the_hash_of_the_secret_is_kept(
    service: TenantService, store: InMemoryTenantStore
) -> None:
    tenant, raw = service.create_tenant("Acme")
    _, key_id, secret = parse_key(raw)

    stored = store.get_key(tenant.tenant_id, key_id)

    assert stored is not None
    assert stored.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    dumped = stored.model_dump_json()
    assert secret not in dumped
    assert raw not in dumped


def test_given_valid_key_when_authenticating_then_principal_names_tenant_key_and_permissions(
    service: TenantService,
) -> None:
    tenant, _ = service.create_tenant("Acme")
    key, raw = service.issue_key(tenant.tenant_id, "reader", [Permission.INVENTORY_READ.value], ADMIN)

    principal = service.authenticate(raw)

    assert principal.tenant_id == tenant.tenant_id
    assert principal.key_id == key.key_id
    assert principal.actor == Actor(id=f"key:{key.key_id}", name="reader")
    assert principal.permissions == frozenset({"inventory.read"})
    assert principal.allows(["inventory.read"])
    assert not principal.allows(["inventory.read", "inventory.write"])


def test_given_two_tenants_when_authenticating_then_each_key_yields_its_own_tenant(service: TenantService) -> None:
    first, first_raw = service.create_tenant("A")
    second, second_raw = service.create_tenant("B")

    assert service.authenticate(first_raw).tenant_id == first.tenant_id
    assert service.authenticate(second_raw).tenant_id == second.tenant_id


def test_given_wrong_secret_when_authenticating_then_unauthenticated(service: TenantService) -> None:
    _, raw = service.create_tenant("Acme")
    prefix, _, secret = raw.rpartition("_")
    wrong = "0" * len(secret) if secret != "0" * len(secret) else "1" * len(secret)

    with pytest.raises(Unauthenticated):
        service.authenticate(f"{prefix}_{wrong}")


def test_given_key_of_one_tenant_presented_under_another_when_authenticating_then_unauthenticated(
    service: TenantService,
) -> None:
    _, raw = service.create_tenant("A")
    other, _ = service.create_tenant("B")
    _, key_id, secret = parse_key(raw)

    with pytest.raises(Unauthenticated):
        service.authenticate(f"sr_{uuid.UUID(other.tenant_id).hex}_{key_id}_{secret}")


def test_given_unknown_key_id_when_authenticating_then_unauthenticated(service: TenantService) -> None:
    tenant, raw = service.create_tenant("Acme")
    _, _, secret = parse_key(raw)

    with pytest.raises(Unauthenticated):
        service.authenticate(f"sr_{uuid.UUID(tenant.tenant_id).hex}_{'f' * 16}_{secret}")


def test_given_revoked_key_when_authenticating_then_unauthenticated(service: TenantService) -> None:
    tenant, raw = service.create_tenant("Acme")
    _, key_id, _ = parse_key(raw)
    service.authenticate(raw)

    revoked = service.revoke_key(tenant.tenant_id, key_id, ADMIN)

    assert revoked.revoked
    assert revoked.version == 2
    with pytest.raises(Unauthenticated):
        service.authenticate(raw)


def test_given_unknown_key_when_revoking_then_not_found(service: TenantService) -> None:
    tenant, _ = service.create_tenant("Acme")
    with pytest.raises(NotFound):
        service.revoke_key(tenant.tenant_id, "0" * 16, ADMIN)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "sr",
        "sr___",
        "Bearer sr_x",
        f"xx_{'a' * 32}_{'b' * 16}_{'c' * 64}",
        f"sr_{'a' * 32}_{'b' * 16}",
        f"sr_{'a' * 32}__{'c' * 64}",
        f"sr_{'a' * 32}_{'b' * 16}_",
        f"sr_{'z' * 32}_{'b' * 16}_{'c' * 64}",
        f"sr_{'a' * 31}_{'b' * 16}_{'c' * 64}",
        f"sr_{'a' * 32}_{'b' * 16}_{'c' * 32}_{'d' * 32}",
    ],
)
def test_given_malformed_key_when_authenticating_then_unauthenticated(service: TenantService, raw: str) -> None:
    service.create_tenant("Acme")
    with pytest.raises(Unauthenticated):
        service.authenticate(raw)


def test_given_unknown_permission_when_issuing_key_then_validation_failed_and_nothing_stored(
    service: TenantService, store: InMemoryTenantStore
) -> None:
    tenant, _ = service.create_tenant("Acme")

    with pytest.raises(ValidationFailed) as raised:
        service.issue_key(tenant.tenant_id, "bad", ["inventory.read", "inventory.teleport"], ADMIN)

    assert raised.value.details[0]["field"] == "permissions"
    assert "inventory.teleport" in raised.value.details[0]["message"]
    assert len(store.list_keys(tenant.tenant_id)) == 1


def test_given_unknown_permission_when_creating_tenant_then_validation_failed_and_no_tenant(
    service: TenantService,
) -> None:
    with pytest.raises(ValidationFailed):
        service.create_tenant("Acme", permissions=["root"])
    assert list(service.tenant_ids()) == []


def test_given_blank_name_when_creating_tenant_then_validation_failed(service: TenantService) -> None:
    with pytest.raises(ValidationFailed):
        service.create_tenant("   ")


def test_given_unknown_tenant_when_issuing_key_or_reading_then_not_found(service: TenantService) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(NotFound):
        service.issue_key(missing, "k", ["inventory.read"], ADMIN)
    with pytest.raises(NotFound):
        service.get_tenant(missing)


def test_given_duplicate_permissions_when_issuing_key_then_they_are_stored_once_and_sorted(
    service: TenantService,
) -> None:
    tenant, _ = service.create_tenant("Acme")
    key, raw = service.issue_key(tenant.tenant_id, "k", ["orders.read", "inventory.read", "orders.read"], ADMIN)

    assert key.permissions == ["inventory.read", "orders.read"]
    assert service.authenticate(raw).permissions == frozenset(key.permissions)
    assert {k.key_id for k in service.list_keys(tenant.tenant_id)} >= {key.key_id}


def test_given_a_key_when_it_issues_a_key_then_it_grants_only_what_it_holds(
    service: TenantService, store: InMemoryTenantStore
) -> None:
    # Given an admin key that holds nothing else
    tenant, _ = service.create_tenant("Acme", [Permission.ADMIN])
    admin_only = frozenset({Permission.ADMIN.value})
    actor = Actor(id="key:a", name="admin")

    # When it asks for a key with a permission it does not hold, then it is refused naming it, and nothing is stored
    keys_before = list(store.list_keys(tenant.tenant_id))
    with pytest.raises(Forbidden) as refused:
        service.issue_key(tenant.tenant_id, "orders", ["orders.write", "admin"], actor, granted_by=admin_only)
    assert refused.value.details == [{"field": "permissions", "message": "not held by the calling key: orders.write"}]
    assert list(store.list_keys(tenant.tenant_id)) == keys_before

    # And a subset of its own permissions is granted
    key, _ = service.issue_key(tenant.tenant_id, "admins", ["admin"], actor, granted_by=admin_only)
    assert set(key.permissions) == {"admin"}
