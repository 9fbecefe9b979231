"""Reads of several kinds in one BatchGetItem (the core's `BatchReads` port).

A write that needs stock records, products and reference labels before it
can decide anything asks for them together: they all live in the main table,
so one BatchGetItem per 100 keys fetches them, whatever their kind.

Only stock records are needed whole. Without them the read asks for the few
attributes a label or an existence check needs (ProjectionExpression), so
products, locations and reference items come back as a handful of
attributes instead of whole items.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core.models import StockRecord
from chalicelib.core.ports import Found, Wanted
from chalicelib.storage import keys
from chalicelib.storage.codec import from_attrs, to_attrs, to_record
from chalicelib.storage.dynamo import batch_get
from chalicelib.storage.reference_repo import LABEL_ATTRIBUTES, DynamoReferenceStore, resolved

RECORD = "record"
PRODUCT = "product"
# What a label needs (reference_repo.LABEL_ATTRIBUTES); a product's existence needs its key only.
LABEL_NAMES = {f"#a{i}": name for i, name in enumerate(("pk", "sk", *LABEL_ATTRIBUTES))}
LABEL_PROJECTION = ", ".join(LABEL_NAMES)


class DynamoBatchReads:
    def __init__(self, table: str) -> None:
        self._table = table
        self._reference = DynamoReferenceStore(table)

    def read(self, tenant_id: str, wanted: Wanted) -> Found:
        # Several wanted keys can name one item (two spellings of a heat code): each gets its answer.
        by_key: dict[tuple[str, str], list[tuple[str, Any]]] = {}

        def want(key: dict[str, str], what: tuple[str, Any]) -> None:
            by_key.setdefault((key["pk"], key["sk"]), []).append(what)

        for stock_id in wanted.records:
            want(keys.stock(tenant_id, stock_id), (RECORD, stock_id))
        for product_id in wanted.products:
            want(keys.product(tenant_id, product_id), (PRODUCT, product_id))
        for kind, ref in wanted.references:
            if ref:
                want(self._reference.lookup_key(tenant_id, kind, ref), (kind, (kind, ref)))
        found = Found()
        if not by_key:
            return found
        whole = any(what == RECORD for wants in by_key.values() for what, _ in wants)
        items = batch_get(
            self._table,
            [to_attrs({"pk": pk, "sk": sk}) for pk, sk in by_key],
            projection=None if whole else LABEL_PROJECTION,
            names=None if whole else LABEL_NAMES,
        )
        for attrs in items:
            for what, ident in by_key[(attrs["pk"]["S"], attrs["sk"]["S"])]:
                if what == RECORD:
                    found.records[ident] = to_record(StockRecord, attrs)
                elif what == PRODUCT:
                    found.products.add(ident)
                else:
                    found.references[ident] = resolved(what, from_attrs(attrs))
        return found
