"""Tenants and their API keys.

A key reads `sr_<tenant hex>_<key id>_<secret>`. Only a SHA-256 hash of the
secret is stored, under the public key id, and it is compared in constant
time. Because the key names its tenant, the lookup item's key starts with
the tenant like every other key in the table.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Iterable, Iterator

from pydantic import ConfigDict

from chalicelib.core.catalog.service import default_location
from chalicelib.core.errors import NotFound, Unauthenticated, ValidationFailed
from chalicelib.core.ids import new_id
from chalicelib.core.models import SYSTEM, Actor, ApiKey, Model, Tenant
from chalicelib.core.ports import TenantStore
from chalicelib.core.tenancy.permissions import ALL_PERMISSIONS, grantable

KEY_PREFIX = "sr"


class Principal(Model):
    """The authenticated caller: the tenant always comes from here, never from a body."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    key_id: str
    actor: Actor
    permissions: frozenset[str]
    # "key" (an API key) or "token" (an OAuth2 access token: key_id is then its client id).
    credential: str = "key"

    def allows(self, required: Iterable[str]) -> bool:
        return set(required) <= self.permissions


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def format_key(tenant_id: str, key_id: str, secret: str) -> str:
    return f"{KEY_PREFIX}_{uuid.UUID(tenant_id).hex}_{key_id}_{secret}"


def parse_key(raw: str) -> tuple[str, str, str]:
    """Split a raw key into (tenant id, key id, secret), or refuse it."""
    parts = raw.split("_")
    if len(parts) != 4 or parts[0] != KEY_PREFIX or not parts[2] or not parts[3]:
        raise Unauthenticated("Invalid API key")
    try:
        tenant_id = str(uuid.UUID(hex=parts[1]))
    except ValueError:
        raise Unauthenticated("Invalid API key") from None
    return tenant_id, parts[2], parts[3]


class TenantService:
    def __init__(self, store: TenantStore) -> None:
        self._store = store

    def create_tenant(
        self, name: str, permissions: Iterable[str] = ALL_PERMISSIONS, key_name: str = "initial key"
    ) -> tuple[Tenant, str]:
        """Create a tenant with one key and its default location; the raw key is returned once and never stored."""
        if not name.strip():
            raise ValidationFailed("tenant name is required", [{"field": "name", "message": "must not be empty"}])
        tenant = Tenant(tenant_id=new_id(), name=name.strip())
        key, raw = self._new_key(tenant.tenant_id, key_name, permissions)
        self._store.create_tenant(tenant, key, SYSTEM, default_location(tenant.tenant_id))
        return tenant, raw

    def issue_key(
        self,
        tenant_id: str,
        name: str,
        permissions: Iterable[str],
        actor: Actor,
        granted_by: frozenset[str] | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key; `granted_by` (the caller's permissions) caps what it may hold: a key grants only what it has."""
        permissions = _grantable(permissions, granted_by)
        if self._store.get_tenant(tenant_id) is None:
            raise NotFound(f"tenant {tenant_id} not found")
        key, raw = self._new_key(tenant_id, name, permissions)
        self._store.put_key(key, actor)
        return key, raw

    def authenticate(self, raw: str) -> Principal:
        tenant_id, key_id, secret = parse_key(raw)
        key = self._store.get_key(tenant_id, key_id)
        # Hash and compare even when the key is unknown, so timing says nothing.
        stored = key.key_hash if key else hash_secret(new_id())
        matches = hmac.compare_digest(stored, hash_secret(secret))
        if key is None or not matches or key.revoked:
            raise Unauthenticated("Invalid API key")
        return Principal(
            tenant_id=tenant_id,
            key_id=key_id,
            actor=Actor(id=f"key:{key_id}", name=key.name),
            permissions=frozenset(key.permissions),
        )

    def tenant_ids(self) -> Iterator[str]:
        return self._store.list_tenant_ids()

    def exists(self, tenant_id: str) -> bool:
        return self._store.get_tenant(tenant_id) is not None

    def get_tenant(self, tenant_id: str) -> Tenant:
        tenant = self._store.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound(f"tenant {tenant_id} not found")
        return tenant

    def list_keys(self, tenant_id: str) -> list[ApiKey]:
        return self._store.list_keys(tenant_id)

    def revoke_key(self, tenant_id: str, key_id: str, actor: Actor) -> ApiKey:
        return self._store.revoke_key(tenant_id, key_id, actor)

    @staticmethod
    def _new_key(tenant_id: str, name: str, permissions: Iterable[str]) -> tuple[ApiKey, str]:
        wanted = _grantable(permissions, None)
        key_id = secrets.token_hex(8)
        secret = secrets.token_hex(32)
        key = ApiKey(tenant_id=tenant_id, key_id=key_id, name=name, key_hash=hash_secret(secret), permissions=wanted)
        return key, format_key(tenant_id, key_id, secret)


def _grantable(permissions: Iterable[str], granted_by: frozenset[str] | None) -> list[str]:
    refusal = "a key cannot grant permissions it does not hold"
    return grantable(permissions, granted_by, field="permissions", refusal=refusal, granter="the calling key")
