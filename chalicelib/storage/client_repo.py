"""OAuth2 clients in the main table, and their token-request counters in the idempotency table.

Clients live under `pk=T#<tenant>#OAUTHCLIENT, sk=<client id>`; the client id
names its tenant (`sc_<tenant hex>_<random>`), so the token route finds a
client with one GetItem and no global index. The per-minute counters go to
the idempotency table: it has a TTL (the counters expire by themselves) and no
stream (a token request writes no history).
"""

from __future__ import annotations

from decimal import Decimal

from botocore.exceptions import ClientError

from chalicelib.core.errors import AlreadyExists, NotFound
from chalicelib.core.ids import utcnow
from chalicelib.core.models import Actor
from chalicelib.core.tenancy.clients import OAuthClient
from chalicelib.storage import keys
from chalicelib.storage.codec import record_item, to_attrs, to_record
from chalicelib.storage.dynamo import ddb, is_conditional_failure, query_all

# A counter outlives its minute by this much before DynamoDB's TTL may delete it.
COUNTER_GRACE_SECONDS = 120


class DynamoClientStore:
    def __init__(self, table: str, counters_table: str) -> None:
        self._table = table
        self._counters = counters_table

    def put_client(self, client: OAuthClient, actor: Actor) -> None:
        key = keys.oauth_client(client.tenant_id, client.client_id)
        item = record_item(client, key, "oauthClient", client.client_id, actor, client.name)
        try:
            ddb().put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise AlreadyExists(f"client {client.client_id} already exists") from None
            raise

    def get_client(self, tenant_id: str, client_id: str) -> OAuthClient | None:
        # Consistent: a revoke is seen by the next read (the service caches reads for at most a minute).
        response = ddb().get_item(
            TableName=self._table, Key=to_attrs(keys.oauth_client(tenant_id, client_id)), ConsistentRead=True
        )
        item = response.get("Item")
        return to_record(OAuthClient, item) if item else None

    def list_clients(self, tenant_id: str) -> list[OAuthClient]:
        items = query_all(
            self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_attrs({":pk": keys.oauth_clients_partition(tenant_id)}),
        )
        return [to_record(OAuthClient, item) for item in items]

    def revoke_client(self, tenant_id: str, client_id: str, actor: Actor) -> OAuthClient:
        try:
            response = ddb().update_item(
                TableName=self._table,
                Key=to_attrs(keys.oauth_client(tenant_id, client_id)),
                UpdateExpression=(
                    "SET revoked = :true, version = version + :one, updated_at = :now, "
                    "changed_at = :now, changed_by_id = :by, changed_by_name = :byname"
                ),
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_attrs(
                    {":true": True, ":one": Decimal(1), ":now": utcnow(), ":by": actor.id, ":byname": actor.name}
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise NotFound(f"client {client_id} not found") from None
            raise
        return to_record(OAuthClient, response["Attributes"])

    def count_token_request(self, tenant_id: str, client_id: str, window_start: int, limit: int) -> bool:
        """One conditional ADD: counts the request unless `limit` were already counted in this window."""
        try:
            ddb().update_item(
                TableName=self._counters,
                Key=to_attrs(keys.oauth_token_requests(tenant_id, client_id, window_start)),
                UpdateExpression="ADD requests :one SET expires_at = if_not_exists(expires_at, :expires)",
                ConditionExpression="attribute_not_exists(requests) OR requests < :limit",
                ExpressionAttributeValues=to_attrs(
                    {
                        ":one": Decimal(1),
                        ":limit": Decimal(limit),
                        ":expires": Decimal(window_start + 60 + COUNTER_GRACE_SECONDS),
                    }
                ),
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True
