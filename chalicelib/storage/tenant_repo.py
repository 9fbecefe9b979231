"""Tenants and API keys in the main table."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from botocore.exceptions import ClientError

from chalicelib.core.errors import AlreadyExists, NotFound
from chalicelib.core.ids import utcnow
from chalicelib.core.models import Actor, ApiKey, Location, Tenant
from chalicelib.storage import keys
from chalicelib.storage.catalog_repo import DynamoCatalogStore
from chalicelib.storage.codec import record_item, to_attrs, to_record
from chalicelib.storage.dynamo import ddb, is_conditional_failure, query_all
from chalicelib.storage.transaction import Meaning, Role, Transaction


class DynamoTenantStore:
    def __init__(self, table: str) -> None:
        self._table = table

    def create_tenant(self, tenant: Tenant, key: ApiKey, actor: Actor, default_location: Location) -> None:
        tenant_keys = {
            **keys.tenant_item(tenant.tenant_id),
            "gsi1pk": keys.TENANTS_INDEX_PK,
            "gsi1sk": tenant.tenant_id,
        }
        tx = Transaction()
        tenant_item = record_item(tenant, tenant_keys, "tenant", tenant.tenant_id, actor, tenant.name)
        tx.add(self._put_new(tenant_item), Meaning(Role.NEW, "tenant", tenant.tenant_id))
        tx.add(self._put_new(self._key_item(key, actor)), Meaning(Role.NEW, "tenant", tenant.tenant_id))
        # The company's default location and its name guard, in the company's own transaction.
        catalog = DynamoCatalogStore(self._table)
        catalog.add_new_location(tx, default_location, actor)
        catalog.add_location_counter(tx, tenant.tenant_id, 1)
        tx.commit()

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        item = ddb().get_item(TableName=self._table, Key=to_attrs(keys.tenant_item(tenant_id))).get("Item")
        return to_record(Tenant, item) if item else None

    def list_tenant_ids(self) -> Iterator[str]:
        items = query_all(
            self._table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=to_attrs({":pk": keys.TENANTS_INDEX_PK}),
            ProjectionExpression="gsi1sk",
        )
        return (item["gsi1sk"]["S"] for item in items)

    def put_key(self, key: ApiKey, actor: Actor) -> None:
        try:
            ddb().put_item(**self._put_new(self._key_item(key, actor))["Put"])
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise AlreadyExists(f"API key {key.key_id} already exists") from None
            raise

    def get_key(self, tenant_id: str, key_id: str) -> ApiKey | None:
        # Consistent, so a revoked key stops working at once.
        item = (
            ddb()
            .get_item(TableName=self._table, Key=to_attrs(keys.api_key(tenant_id, key_id)), ConsistentRead=True)
            .get("Item")
        )
        return to_record(ApiKey, item) if item else None

    def list_keys(self, tenant_id: str) -> list[ApiKey]:
        pk, prefix = keys.api_keys_prefix(tenant_id)
        items = query_all(
            self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=to_attrs({":pk": pk, ":prefix": prefix}),
        )
        return [to_record(ApiKey, item) for item in items]

    def revoke_key(self, tenant_id: str, key_id: str, actor: Actor) -> ApiKey:
        try:
            response = ddb().update_item(
                TableName=self._table,
                Key=to_attrs(keys.api_key(tenant_id, key_id)),
                UpdateExpression=(
                    "SET revoked = :true, version = version + :one, updated_at = :now, "
                    "changed_at = :now, changed_by_id = :by, changed_by_name = :byname"
                ),
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_attrs(
                    {
                        ":true": True,
                        ":one": Decimal(1),
                        ":now": utcnow(),
                        ":by": actor.id,
                        ":byname": actor.name,
                    }
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise NotFound(f"API key {key_id} not found") from None
            raise
        return to_record(ApiKey, response["Attributes"])

    def _key_item(self, key: ApiKey, actor: Actor) -> dict[str, object]:
        return record_item(key, keys.api_key(key.tenant_id, key.key_id), "apiKey", key.key_id, actor, key.name)

    def _put_new(self, item: dict[str, object]) -> dict[str, dict[str, object]]:
        return {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}
