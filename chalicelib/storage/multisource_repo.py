"""DynamoDB side of the multi-source inventory (004): guard reads, record ids, and the search's queries.

Records themselves are the stock store's (`stock_repo`); this store reads
the guards that map documented keys to core ids (`T#t#UNIQUE / <kind>#<value>`),
hands out record ids (`T#t#SEQ / stock-number`), numbers records of other
surfaces on first sight, and runs a search as one driving index Query per
product (gsi1), warehouse (gsi2) or record type (gsi3, last-modified order)
with the other filters as a FilterExpression.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from chalicelib.core.errors import Conflict
from chalicelib.core.models import StockRecord
from chalicelib.core.ports import UnitOfWork
from chalicelib.core.stock.ownership import INTERN
from chalicelib.features.multisource.ports import STOCK_NUMBER, SearchPlan
from chalicelib.storage import keys
from chalicelib.storage.codec import to_attrs, to_record
from chalicelib.storage.dynamo import batch_get, query_all
from chalicelib.storage.listing import next_numbers
from chalicelib.storage.transaction import Meaning, Role, Transaction

RECORD_NUMBERS = "stock-number"
# Records numbered per transaction on first sight (an Update and a guard Put each).
NUMBERING_BATCH = 50
PARALLEL_QUERIES = 16


class DynamoMultiSourceStore:
    def __init__(self, table: str) -> None:
        self._table = table

    def guard_targets(self, tenant_id: str, kind: str, values: Iterable[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(v for v in values if v))
        if not wanted:
            return {}
        found = batch_get(
            self._table,
            [to_attrs(keys.unique(tenant_id, kind, v)) for v in wanted],
            projection="sk, target_id",
        )
        prefix = f"{kind}#"
        return {item["sk"]["S"].removeprefix(prefix): item["target_id"]["S"] for item in found}

    def next_record_numbers(self, tenant_id: str, count: int) -> range:
        return next_numbers(self._table, tenant_id, RECORD_NUMBERS, count)

    def number_records(self, tenant_id: str, numbered: list[tuple[str, int]]) -> None:
        for start in range(0, len(numbered), NUMBERING_BATCH):
            tx = Transaction()
            for stock_id, number in numbered[start : start + NUMBERING_BATCH]:
                update = {
                    "TableName": self._table,
                    "Key": to_attrs(keys.stock(tenant_id, stock_id)),
                    "UpdateExpression": "SET #number = :n",
                    "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(#number)",
                    "ExpressionAttributeNames": {"#number": "number"},
                    "ExpressionAttributeValues": to_attrs({":n": Decimal(number)}),
                }
                tx.add({"Update": update}, Meaning(Role.VERSION, "stock record", stock_id))
                guard = {**keys.unique(tenant_id, STOCK_NUMBER, str(number)), "target_id": stock_id}
                put = {
                    "TableName": self._table,
                    "Item": to_attrs({**guard, "entity_type": "guard"}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
                tx.add({"Put": put}, Meaning(Role.NEW, "record id", str(number)))
            tx.commit()

    def add_guard(self, uow: UnitOfWork, tenant_id: str, kind: str, value: str, target: str, field: str) -> None:
        tx = _transaction(uow)
        item = {**keys.unique(tenant_id, kind, value), "target_id": target, "entity_type": "guard"}
        put = {"TableName": self._table, "Item": to_attrs(item), "ConditionExpression": "attribute_not_exists(pk)"}
        tx.add({"Put": put}, Meaning(Role.GUARD, "inventory record", target, field=field, value=value[:12]))

    def add_guard_release(self, uow: UnitOfWork, tenant_id: str, kind: str, value: str, target: str) -> None:
        tx = _transaction(uow)
        delete = {
            "TableName": self._table,
            "Key": to_attrs(keys.unique(tenant_id, kind, value)),
            "ConditionExpression": "attribute_not_exists(pk) OR target_id = :t",
            "ExpressionAttributeValues": to_attrs({":t": target}),
        }
        tx.add({"Delete": delete}, Meaning(Role.VERSION, "inventory record", target))

    # -- search -------------------------------------------------------------------

    def search(self, tenant_id: str, plan: SearchPlan) -> list[StockRecord]:
        queries = self._driving(tenant_id, plan)
        filters, names, values = _filters(plan)
        found: list[StockRecord] = []

        def run(query: dict[str, Any]) -> list[StockRecord]:
            params = {**query}
            params["ExpressionAttributeValues"] = to_attrs({**query["ExpressionAttributeValues"], **values})
            if filters:
                params["FilterExpression"] = " AND ".join(filters)
            if names:
                params["ExpressionAttributeNames"] = names
            records = []
            for item in query_all(self._table, **params):
                records.append(to_record(StockRecord, item))
                if len(records) >= plan.limit:
                    break
            return records

        if len(queries) == 1:
            found = run(queries[0])
        else:
            with ThreadPoolExecutor(max_workers=min(PARALLEL_QUERIES, len(queries))) as pool:
                for part in pool.map(run, queries):
                    found.extend(part)
        return found[: plan.limit]

    def _driving(self, tenant_id: str, plan: SearchPlan) -> list[dict[str, Any]]:
        t = tenant_id
        if plan.product_ids:
            return [
                {
                    "IndexName": "gsi1",
                    "KeyConditionExpression": "gsi1pk = :pk AND begins_with(gsi1sk, :prefix)",
                    "ExpressionAttributeValues": {":pk": f"{keys.tenant(t)}#PRODUCT#{pid}", ":prefix": "STOCK#"},
                }
                for pid in plan.product_ids
            ]
        if plan.location_ids:
            return [
                {
                    "IndexName": "gsi2",
                    "KeyConditionExpression": "gsi2pk = :pk AND begins_with(gsi2sk, :prefix)",
                    "ExpressionAttributeValues": {":pk": f"{keys.tenant(t)}#LOCATION#{lid}", ":prefix": "STOCK#"},
                }
                for lid in plan.location_ids
            ]
        queries = []
        for kind in plan.types:
            pk = keys.stock_type_partition(t, kind == "local")
            if plan.modified_since is not None:
                queries.append(
                    {
                        "IndexName": "gsi3",
                        "KeyConditionExpression": "gsi3pk = :pk AND gsi3sk >= :since",
                        "ExpressionAttributeValues": {":pk": pk, ":since": keys.stamp(plan.modified_since)},
                        "ScanIndexForward": False,
                    }
                )
            else:
                queries.append(
                    {
                        "IndexName": "gsi3",
                        "KeyConditionExpression": "gsi3pk = :pk",
                        "ExpressionAttributeValues": {":pk": pk},
                        "ScanIndexForward": False,
                    }
                )
        return queries


def _filters(plan: SearchPlan) -> tuple[list[str], dict[str, str], dict[str, Any]]:
    """The FilterExpression parts of a plan (what its driving index does not decide)."""
    filters = [] if plan.include_deleted else ["active = :active"]
    names: dict[str, str] = {}
    values: dict[str, Any] = {} if plan.include_deleted else {":active": True}
    if plan.owner is not None:
        filters.append("#owner = :owner")
        names["#owner"] = "owner"
        values[":owner"] = plan.owner
    elif plan.local_only and not plan.types:
        filters.append("#owner = :intern")
        names["#owner"] = "owner"
        values[":intern"] = INTERN
    elif plan.supplier_only and not plan.types:
        filters.append("#owner <> :intern")
        names["#owner"] = "owner"
        values[":intern"] = INTERN
    if plan.location_ids_filter:
        marks = []
        for index, location_id in enumerate(plan.location_ids_filter):
            values[f":loc{index}"] = location_id
            marks.append(f":loc{index}")
        filters.append(f"location_id IN ({', '.join(marks)})")
    if plan.place is not None:
        filters.append("#attributes.#location = :place")
        names.update({"#attributes": "attributes", "#location": "location"})
        values[":place"] = plan.place
    if plan.company is not None:
        if plan.company == 0:
            filters.append("attribute_not_exists(#attributes.#company)")
        else:
            filters.append("#attributes.#company = :company")
            values[":company"] = Decimal(plan.company)
        names.update({"#attributes": "attributes", "#company": "companyId"})
    if plan.min_quantity is not None:
        filters.append("on_hand >= :min")
        values[":min"] = plan.min_quantity
    if plan.max_quantity is not None:
        filters.append("on_hand <= :max")
        values[":max"] = plan.max_quantity
    if plan.modified_since is not None and not plan.types:
        filters.append("updated_at >= :since_filter")
        values[":since_filter"] = keys.stamp(plan.modified_since)
    return filters, names, values


def _transaction(uow: UnitOfWork) -> Transaction:
    if not isinstance(uow, Transaction):
        raise Conflict("the multi-source store writes only into a storage transaction")
    return uow
