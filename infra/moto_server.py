"""moto's server, made safe for concurrent clients.

moto's backend has no locking: an UpdateItem reads, checks its condition and
writes in separate Python steps. Handling one request at a time gives
DynamoDB's guarantee (each request atomic and isolated) while clients still
race freely between their requests. The local stack and the concurrency tests
both start moto here.

moto's TransactWriteItems also prepares its rollback by deep-copying every
table it touches, once per item of the transaction (a 100-item transaction
copies the table 100 times), and rolls back by putting the copies back: the
local stack slows down and grows as its tables grow, and a rollback would wipe
whatever was written to the table (and its stream) meanwhile.
`roll_back_by_item` replaces that with a snapshot of the items the transaction
touches; `start` applies it, and the integration tier applies it to moto in
process.

moto also parses every condition expression from scratch, three times for
each item of a transaction (request validation, the transaction's check, the
write's own check); `cache_condition_parsing` keeps the parsed form of the
expressions it has seen, which is most of what a conditional write costs the
local stack. `parse_requests_as_json` reads DynamoDB requests with json.loads
in place of moto's walk of botocore's model.

Every table keeps its items compactly (`infra.compact_items`: bytes of each
item's DynamoDB JSON, deflated), so the local stack's memory grows by a few
hundred bytes per item, not the ~7 KiB of moto's own item objects.
"""

from __future__ import annotations

import gc
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

# Held while moto handles a request, and by anything else in this process that changes moto's state.
BACKEND_LOCK = threading.Lock()


# A request body this large is let go of as soon as it is handled (see OneRequestAtATime).
LARGE_BODY_BYTES = 1 << 20


class OneRequestAtATime:
    """moto's WSGI app, one request at a time.

    A large body (a CSV dropped into S3) sits in reference cycles of the
    request's objects, which Python's cyclic collector reaches only at its
    rare full collections: a 150 MB upload kept the local stack 150 MB larger
    for the whole import that read it. A collection right after such a
    request gives the memory back.
    """

    def __init__(self, app: Callable[..., Any]) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with BACKEND_LOCK:
            # Drain the body inside the lock: the request is handled while it is read.
            answer = list(self._app(environ, start_response))
        if _content_length(environ) > LARGE_BODY_BYTES:
            gc.collect()
        return answer


def _content_length(environ: dict[str, Any]) -> int:
    try:
        return int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def start(port: int, compact: bool = True) -> Any:
    """Start moto's threaded server on 127.0.0.1:`port`, one request at a time.

    `compact` gives every table made from now on in this process the compact item store (the local
    stack's), its items' bodies kept on disk; the integration tier, whose in-process moto shares the
    backends, passes False.
    """
    from moto.server import ThreadedMotoServer

    from infra.compact_items import install as compact_items
    from infra.compact_records import compact_stream_records
    from infra.moto_tokens import honour_client_request_tokens
    from infra.spill import spill_to_disk

    if compact:
        compact_items()
        compact_stream_records()
        spill_to_disk()
    _stamp_sequencers()
    honour_client_request_tokens()
    roll_back_by_item()
    cache_condition_parsing()
    parse_requests_as_json()
    answer_stream_records_as_json()
    check_item_size_once()
    list_moto_modules_once()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    wsgi = server._server
    assert wsgi is not None, "moto server did not start"
    wsgi.app = OneRequestAtATime(wsgi.app)
    return server


def _stamp_sequencers() -> None:
    """Give moto's S3 notifications the `sequencer` real S3 sends.

    The import tells a new drop to the same key from a redelivery of the old
    one by it; moto leaves it out, so a second drop would look like a repeat.
    """
    import time

    from moto.s3 import notifications

    original = notifications._get_s3_event
    if getattr(original, "stamps_sequencer", False):
        return

    def with_sequencer(*args: Any, **kwargs: Any) -> dict[str, list[dict[str, Any]]]:
        event = original(*args, **kwargs)
        for record in event["Records"]:
            record["s3"]["object"].setdefault("sequencer", f"{time.time_ns():020X}")
        return event

    with_sequencer.stamps_sequencer = True  # type: ignore[attr-defined]
    notifications._get_s3_event = with_sequencer


# -- TransactWriteItems: roll back the items touched, not whole tables ---------------

_journal = threading.local()


def roll_back_by_item() -> None:
    """Make moto's TransactWriteItems snapshot only the items it touches. Idempotent.

    moto's own code still runs every item of the transaction, with its
    conditions, its duplicate-key check and its validation, so what succeeds,
    what is cancelled and the reasons given are moto's. Only the rollback
    changes: before the transaction, each item it names (by table and key) is
    remembered as it was (a deep copy where an Update would change it in place,
    None where it did not exist), and the stream records the transaction itself
    adds are noted as they are made. If the transaction fails for any reason,
    those items are put back as they were (items it created are removed) and
    its own stream records are dropped: all or nothing, as in DynamoDB, and no
    stream records for a write that never happened. Items and stream records
    that other writers made are left alone, and nothing is copied whole, so a
    transaction costs the same on a big table as on an empty one.
    """
    import copy
    from types import SimpleNamespace

    from moto.dynamodb import models
    from moto.dynamodb.models.table import StreamShard, Table

    original = models.DynamoDBBackend.transact_write_items
    if getattr(original, "rolls_back_by_item", False):
        return
    # moto's rollback snapshot is `copy.deepcopy(table)` in this module; a table "copied" this way
    # is the table itself, so moto's own rollback puts back the same object (a no-op) and ours does
    # the work. Item copies (UpdateItem's old image) are still real deep copies.
    if getattr(models, "copy", None) is not copy:
        raise RuntimeError("moto's DynamoDB backend changed shape: the rollback patch no longer applies")
    deepcopy = copy.deepcopy
    models.copy = SimpleNamespace(  # type: ignore[assignment]
        deepcopy=lambda value, memo=None: value if isinstance(value, Table) else deepcopy(value, memo),
        copy=copy.copy,
    )

    add = StreamShard.add

    def add_noting_own(shard: Any, old: Any, new: Any) -> None:
        add(shard, old, new)
        own = getattr(_journal, "records", None)
        if own is not None and shard.items:
            own.append((shard, shard.items[-1]))

    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        if getattr(_journal, "records", None) is not None:  # re-entered: the outer call keeps the journal
            original(backend, transact_items)
            return
        before = _snapshot(backend, transact_items, deepcopy)
        _journal.records = []
        try:
            original(backend, transact_items)
        except BaseException:
            _restore(before, _journal.records)
            raise
        finally:
            _journal.records = None

    add_noting_own.notes_own_records = True  # type: ignore[attr-defined]
    transact_write_items.rolls_back_by_item = True  # type: ignore[attr-defined]
    StreamShard.add = add_noting_own  # type: ignore[method-assign]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def trim_stream(stream_arn: str, up_to: str) -> int:
    """Forget the stream records of `stream_arn` up to sequence number `up_to` (delivered). Returns how many.

    moto keeps every stream record (with both images) for ever, where DynamoDB
    trims after 24 hours: a local stack that has run a few thousand writes would
    hold them all. The local stack's stream delivery calls this once records are
    handled, so the shard holds only what is still to deliver. The shard's
    starting sequence number moves with it, so sequence numbers and iterators
    after the trimmed ones stay valid.
    """
    from moto.dynamodb.models import dynamodb_backends

    _, _, _, region, account, resource = stream_arn.split(":", 5)
    table_name = resource.split("/")[1]
    with BACKEND_LOCK:
        table = dynamodb_backends[account][region].tables.get(table_name)
        shard = table.stream_shard if table is not None else None
        if shard is None:
            return 0
        count = max(0, min(len(shard.items), int(up_to) - shard.starting_sequence_number + 1))
        del shard.items[:count]
        shard.starting_sequence_number += count
        return count


# (table, hash key, range key or None, the item as it was or None, whether the hash bucket existed)
_Saved = tuple[Any, Any, Any, Any, bool]


def _snapshot(backend: Any, transact_items: list[dict[str, Any]], deepcopy: Callable[[Any], Any]) -> list[_Saved]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    saved: list[_Saved] = []
    seen: set[tuple[str, Any, Any]] = set()
    for entry in transact_items:
        if len(entry) != 1:
            continue  # moto refuses it before writing anything
        op_type, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
        if table is None:
            continue
        key = op.get("Item") if op_type == "Put" else op.get("Key")
        if not isinstance(key, dict) or table.hash_key_attr not in key:
            continue  # moto fails this item before writing it
        if table.range_key_attr is not None and table.range_key_attr not in key:
            continue
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr is not None else None
        marker = (table.name, hash_key, range_key)
        if marker in seen:
            continue  # moto refuses a second action on the same item before running it
        seen.add(marker)
        bucket_existed = hash_key in table.items
        current = table.get_item(hash_key, range_key)
        # An Update changes the stored item in place; a Put replaces it and a Delete removes it.
        if current is not None and op_type == "Update":
            current = deepcopy(current)
        saved.append((table, hash_key, range_key, current, bucket_existed))
    return saved


def _restore(saved: list[_Saved], own_records: list[tuple[Any, Any]]) -> None:
    for table, hash_key, range_key, item, bucket_existed in reversed(saved):
        if range_key is None:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
            continue
        if item is None:
            bucket = table.items.get(hash_key)
            if bucket is not None:
                bucket.pop(range_key, None)
                if not bucket and not bucket_existed:
                    table.items.pop(hash_key, None)
        else:
            table.items[hash_key][range_key] = item
    dropped: dict[int, set[int]] = {}
    shards: dict[int, Any] = {}
    for shard, record in own_records:
        dropped.setdefault(id(shard), set()).add(id(record))
        shards[id(shard)] = shard
    for key, shard in shards.items():
        shard.items = [record for record in shard.items if id(record) not in dropped[key]]


# -- GetRecords: answer in DynamoDB's JSON directly ------------------------------------


def answer_stream_records_as_json() -> None:
    """Answer GetRecords with the records' JSON, as moto's DynamoDB answers its own requests. Idempotent.

    moto 5 serialises a GetRecords answer through its generic, model-driven
    serialiser, attribute value by attribute value: a page of 100 records
    with both images took the local stack's server about half a second,
    more than the writes that made them (a profile of an import: 46 of 90
    seconds in GetRecords). The records are already the JSON DynamoDB sends,
    so they are dumped as moto's DynamoDB dumps its own answers.
    """
    from moto.dynamodb.models.utilities import dynamo_json_dump
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    if getattr(DynamoDBStreamsHandler.get_records, "as_json", False):
        return

    def get_records(handler: Any) -> str:
        limit = handler._get_param("Limit")
        return dynamo_json_dump(handler.backend.get_records(handler._get_param("ShardIterator"), limit or 1000))

    get_records.as_json = True  # type: ignore[attr-defined]
    DynamoDBStreamsHandler.get_records = get_records  # type: ignore[method-assign,assignment]


def list_moto_modules_once() -> None:
    """Let moto's server list its own service modules once, not on every request. Idempotent.

    To find the backend for a request's host, moto's dispatcher lists its
    package folder and stats each entry (about 150) for every request: 7% of
    the local stack's time in a profile of a large import. The folder does not
    change while the process runs.
    """
    from moto import backends

    if getattr(backends.list_of_moto_modules, "listed_once", False):
        return
    modules = frozenset(backends.list_of_moto_modules())

    def listed() -> frozenset[str]:
        return modules

    listed.listed_once = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = listed  # type: ignore[assignment]


def check_item_size_once() -> None:
    """Let moto check a new item's 400 KB limit once, not once per attribute. Idempotent.

    moto's item dict re-sums the size of every attribute it already holds each
    time it stores another, so building an item costs the square of its
    attributes (a sixth of the local stack's time in a profile of an import).
    The check is the same, on the same sizes, made once on the whole item;
    setting one attribute later (an update) still goes through moto's own check.
    """
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.utilities import bytesize

    item_class = dynamo_type.Item
    if getattr(item_class.__init__, "sized_once", False):
        return
    size_limit = 405000  # moto's own figure (between DynamoDB's 409 and 410 KB)

    def init(item: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        item.hash_key = hash_key
        item.range_key = range_key
        checked = dynamo_type.LimitedSizeDict.__new__(dynamo_type.LimitedSizeDict)
        size = 0
        for name, value in attrs.items():
            typed = dynamo_type.DynamoType(value)
            size += bytesize(name) + typed.size()
            dict.__setitem__(checked, name, typed)
        if size > size_limit:
            raise ItemSizeTooLarge
        item.attrs = checked

    init.sized_once = True  # type: ignore[attr-defined]
    item_class.__init__ = init  # type: ignore[method-assign]


# -- condition expressions: parse each distinct one once ------------------------------

CONDITION_CACHE_SIZE = 1024


def cache_condition_parsing() -> None:
    """Let moto reuse the parsed form of a condition expression it has parsed before. Idempotent.

    The key is the whole input (the expression, its attribute names and its
    attribute values), and the parsed tree is immutable once built (its
    nodes only read the item they are evaluated on), so a hit gives exactly
    what parsing again would. Expressions that fail to parse are not cached:
    they fail the same way every time. The cache keeps the most recent
    CONDITION_CACHE_SIZE expressions.
    """
    import json
    from collections import OrderedDict

    from moto.dynamodb.comparisons import ConditionExpressionParser

    original = ConditionExpressionParser.parse
    if getattr(original, "cached", False):
        return
    cache: OrderedDict[str, tuple[Any, list[str], list[str]]] = OrderedDict()
    lock = threading.Lock()

    def parse(parser: Any) -> Any:
        key = json.dumps(
            [parser.condition_expression, parser.expression_attribute_names, parser.expression_attribute_values],
            sort_keys=True,
            default=repr,  # binary attribute values (bytes): their repr is as exact a key
        )
        with lock:
            hit = cache.get(key)
            if hit is not None:
                cache.move_to_end(key)
        if hit is None:
            op = original(parser)
            with lock:
                cache[key] = (op, list(parser.expr_attr_names_found), list(parser.expr_attr_values_found))
                if len(cache) > CONDITION_CACHE_SIZE:
                    cache.popitem(last=False)
            return op
        op, names, values = hit
        parser.expr_attr_names_found.extend(names)
        parser.expr_attr_values_found.extend(values)
        return op

    parse.cached = True  # type: ignore[attr-defined]
    ConditionExpressionParser.parse = parse  # type: ignore[method-assign]


# A key "B" or "BS" anywhere in a JSON body ("BOOL" and other keys starting with B are not).
BINARY_KEY = re.compile(rb'"BS?"\s*:')


def parse_requests_as_json() -> None:
    """Let moto read a DynamoDB request with json.loads, not its shape-walking parser. Idempotent.

    moto (5.x) parses every request by walking botocore's model of the
    operation, which on a batch of items cost a fifth of the local stack's
    time. DynamoDB's requests are plain JSON whose only value the model
    changes is a binary attribute (`{"B": base64}` or `{"BS": [...]}`, the
    only places the API has a key B or BS holding text), decoded here to the
    bytes moto's parser gives. The requests come from botocore, so no member
    the model would drop is present.
    """
    import base64
    import json

    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.parse_parameters, "as_json", False):
        return

    def binary(value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                if isinstance(value.get("B"), str):
                    return {"B": base64.b64decode(value["B"])}
                if isinstance(value.get("BS"), list):
                    return {"BS": [base64.b64decode(v) for v in value["BS"]]}
            return {k: binary(v) for k, v in value.items()}
        if isinstance(value, list):
            return [binary(v) for v in value]
        return value

    def parse_parameters(handler: Any, request: Any) -> None:
        body = request.data or b"{}"
        parsed = json.loads(body)
        # Most requests hold no binary value: the walk only runs when a key B or BS appears at all.
        handler.params = binary(parsed) if BINARY_KEY.search(body) else parsed

    parse_parameters.as_json = True  # type: ignore[attr-defined]
    DynamoHandler.parse_parameters = parse_parameters  # type: ignore[method-assign]
