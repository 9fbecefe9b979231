"""DynamoDB storage of channels and availability records (001).

Channels: `T#t#CHANNEL / <id>` + the code guard `T#t#UNIQUE / CHANNEL#<casefolded code>`.
Availability records: `T#t#ALLOC / <location id>#<product id>` (+ gsi1
`T#t#ALLOC#<product id> / <location id>`). Reads that a request needs
together (products, locations, records, channels) are one BatchGetItem.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core.errors import StaleVersion
from chalicelib.core.models import Actor, Location, Product
from chalicelib.features.availability.model import Allocation, Channel
from chalicelib.features.availability.ports import Found, Wanted
from chalicelib.storage import keys
from chalicelib.storage.codec import record_item, to_attrs, to_record
from chalicelib.storage.dynamo import batch_get, ddb, is_conditional_failure, query_all
from chalicelib.storage.transaction import Meaning, Role, Transaction


class DynamoAvailabilityStore:
    def __init__(self, table: str) -> None:
        self._table = table

    # -- channels ------------------------------------------------------------------

    def create_channel(self, channel: Channel, actor: Actor) -> None:
        t = channel.tenant_id
        item = record_item(
            channel, keys.channel(t, channel.channel_id), "channel", channel.channel_id, actor, channel.name
        )
        guard = {**keys.channel_code(t, channel.code), "target_id": channel.channel_id, "entity_type": "guard"}
        tx = Transaction()
        tx.add(self._put_new(item), Meaning(Role.NEW, "channel", channel.channel_id))
        taken = Meaning(Role.GUARD, "channel", channel.channel_id, field="code", value=channel.code)
        tx.add(self._put_new(to_attrs(guard)), taken)
        tx.commit()

    def channels(self, tenant_id: str) -> list[Channel]:
        items = query_all(
            self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_attrs({":pk": keys.channels_partition(tenant_id)}),
            ConsistentRead=True,
        )
        return [to_record(Channel, item) for item in items]

    # -- availability records --------------------------------------------------------

    def put_allocation(self, allocation: Allocation, actor: Actor, previous_version: int | None) -> None:
        t = allocation.tenant_id
        item_keys = {
            **keys.allocation(t, allocation.product_id, allocation.location_id),
            **keys.allocation_by_product(t, allocation.product_id, allocation.location_id),
        }
        entity_id = f"{allocation.product_id}@{allocation.location_id}"
        item = record_item(allocation, item_keys, "availability", entity_id, actor)
        request: dict[str, Any] = {"TableName": self._table, "Item": item}
        if previous_version is None:
            request["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            request["ConditionExpression"] = "version = :v"
            request["ExpressionAttributeValues"] = to_attrs({":v": previous_version})
        try:
            ddb().put_item(**request)
        except ClientError as error:
            if is_conditional_failure(error):
                raise StaleVersion(
                    "the availability record changed meanwhile: read it and try again",
                    [{"field": "channels", "message": "changed by another request"}],
                ) from None
            raise

    def allocations(self, tenant_id: str, location_id: str | None = None) -> list[Allocation]:
        values: dict[str, Any] = {":pk": keys.allocations_partition(tenant_id)}
        condition = "pk = :pk"
        if location_id is not None:
            values[":prefix"] = f"{location_id}#"
            condition += " AND begins_with(sk, :prefix)"
        items = query_all(
            self._table,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=to_attrs(values),
            ConsistentRead=True,
        )
        return [to_record(Allocation, item) for item in items]

    def allocations_of_product(self, tenant_id: str, product_id: str) -> list[Allocation]:
        items = query_all(
            self._table,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues=to_attrs(
                {":pk": keys.allocation_by_product(tenant_id, product_id, "")["gsi1pk"]}
            ),
        )
        return [to_record(Allocation, item) for item in items]

    # -- reads together ------------------------------------------------------------------

    def read(self, tenant_id: str, wanted: Wanted) -> Found:
        """Everything `wanted` names, in one BatchGetItem per 100 keys (consistent)."""
        t = tenant_id
        wanted_keys = [
            *(keys.product(t, p) for p in sorted(wanted.products)),
            *(keys.location(t, loc) for loc in sorted(wanted.locations)),
            *(keys.allocation(t, p, loc) for p, loc in sorted(wanted.allocations)),
            *(keys.channel(t, c) for c in sorted(wanted.channels)),
        ]
        found = Found()
        if not wanted_keys:
            return found
        partitions = {
            "product": keys.products_partition(t),
            "location": keys.locations_partition(t),
            "allocation": keys.allocations_partition(t),
            "channel": keys.channels_partition(t),
        }
        for item in batch_get(self._table, [to_attrs(k) for k in wanted_keys]):
            pk = item["pk"]["S"]
            if pk == partitions["product"]:
                product = to_record(Product, item)
                found.products[product.product_id] = product
            elif pk == partitions["location"]:
                location = to_record(Location, item)
                found.locations[location.location_id] = location
            elif pk == partitions["allocation"]:
                allocation = to_record(Allocation, item)
                found.allocations[(allocation.product_id, allocation.location_id)] = allocation
            elif pk == partitions["channel"]:
                channel = to_record(Channel, item)
                found.channels[channel.channel_id] = channel
        return found

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}
