"""One storage unit of work: the items of ONE TransactWriteItems, from any repository, committed once.

Each repository adds its items together with what each one means (a
`Meaning`: which entity, which guard, which field of the request). If
DynamoDB cancels the transaction, `explain` turns the cancellation reasons
into the one domain error that says why; this is the only place that reads
cancellation reasons.

Before anything is sent:
- more than 100 items (DynamoDB's limit) is a TooManyWrites naming what the
  request would write, instead of AWS's ValidationException;
- two items on one key is a programming error (DynamoDB refuses it too).

Exactly once: every call carries a `ClientRequestToken`, computed once
before the first attempt. With a command id (the request's Idempotency-Key)
it is derived from the command and the keys the transaction writes, so the
same command's transaction has the same token whoever sends it; without one
it is a hash of the items themselves. DynamoDB remembers a successful
transaction's token for 10 minutes: a retry after a lost response (a
timeout, a dropped connection, a 5xx whose outcome is unknown) is answered
with success and writes nothing, so the success is reported as the success
it was. A cancelled transaction is not remembered: its retry is evaluated
again. The same token with other parameters (the same command, rebuilt with
new timestamps, after its first transaction committed) is
IdempotentParameterMismatch, reported as DuplicateCommand: the command ran.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from chalicelib.core.errors import (
    AlreadyExists,
    At,
    Conflict,
    DomainError,
    DuplicateCommand,
    ExpectationFailed,
    InsufficientStock,
    InvalidState,
    NotFound,
    Problem,
    StaleVersion,
    TooManyWrites,
    Unavailable,
    ValidationFailed,
)
from chalicelib.core.limits import TRANSACTION_ITEMS
from chalicelib.core.ports import UnitOfWork
from chalicelib.observability import logger

# DynamoDB's limit on the items of one TransactWriteItems, defined once in the core.
TRANSACT_LIMIT = TRANSACTION_ITEMS
# Cancellations that decided nothing: another transaction held an item, or capacity ran short.
RETRYABLE_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
CONFLICT_ATTEMPTS = 8
# Errors of a whole call that say DynamoDB refused it for capacity, before running it.
THROTTLING_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})
# Calls whose answer was lost (after botocore's own retries) are sent again, same token.
LOST_ATTEMPTS = 4
TOKEN_NAMESPACE = uuid.UUID("9b0d7a52-3c4e-4f7a-8d2b-6a1e5c9f0b13")


class Role(StrEnum):
    """What an item's failed condition says about the request."""

    CHECKPOINT = "checkpoint"  # an import job's checkpoint moved: another worker committed this chunk
    COMMAND = "command"  # the item exists already: this command ran before
    GUARD = "guard"  # a uniqueness guard belongs to another entity
    NEW = "new"  # a new entity's key is taken
    ALIVE = "alive"  # the entity was deleted (or removed) meanwhile
    VERSION = "version"  # the entity changed since it was read
    CLAIM = "claim"  # a reservation or hold is no longer in the status the change expects
    STOCK = "stock"  # a stock record's guards (version, on hand, available, active)
    PLAIN = "plain"  # no condition that can fail


# When several items failed, the first role in this order explains the cancellation.
PRECEDENCE = (
    Role.CHECKPOINT,
    Role.COMMAND,
    Role.GUARD,
    Role.NEW,
    Role.ALIVE,
    Role.VERSION,
    Role.CLAIM,
    Role.STOCK,
    Role.PLAIN,
)


@dataclass(frozen=True)
class Meaning:
    """What one transaction item is, to explain a cancellation in the request's terms."""

    role: Role
    entity: str = "item"
    entity_id: str = ""
    # The request field an error names (documented name, e.g. "orderReference"), the entry of the
    # request's array it belongs to (the `[0]` of `[0].orderReference`), and the value in question.
    field: str | None = None
    value: str | None = None
    index: int | None = None
    # Stock records: the guards the change carries.
    expected_version: int | None = None
    expected_on_hand: Decimal | None = None
    needs_active: bool = False


class CheckpointMoved(Conflict):
    """An import chunk's checkpoint guard failed: the job is not where this worker left it."""

    code = "CHECKPOINT_MOVED"


@dataclass
class _SetEdit:
    """What one transaction does to one string set: its one Update is `index` among the items."""

    table: str
    key: dict[str, Any]
    attribute: str
    entity_type: str | None
    index: int
    adds: list[str] = field(default_factory=list)
    # member -> the ConditionCheck that guards its removal when it has to wait for the commit.
    removes: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    # At most this many members; past it the set stops growing and the item is marked `full_attribute`.
    cap: int | None = None
    full_attribute: str = ""
    full: bool = False


class Transaction(UnitOfWork):
    """The storage `UnitOfWork`: items of any repository, one TransactWriteItems, committed once."""

    def __init__(self, command_id: str | None = None) -> None:
        self._command_id = command_id
        self._items: list[dict[str, Any]] = []
        self._meanings: list[Meaning] = []
        self._token: str | None = None
        self._committed = False
        # (table, key, attribute) -> the members this transaction adds to / removes from that string set.
        self._sets: dict[tuple[str, str, str], _SetEdit] = {}

    def add(self, item: dict[str, Any], meaning: Meaning) -> None:
        if self._committed:
            raise RuntimeError("this transaction has been committed")
        self._items.append(item)
        self._meanings.append(meaning)

    def add_set_member(
        self,
        table: str,
        key: dict[str, Any],
        attribute: str,
        member: str,
        meaning: Meaning,
        entity_type: str | None = None,
        cap: tuple[int, str] | None = None,
    ) -> None:
        """ADD `member` to the string set `attribute` of the item at `key` (created if missing).

        ADD is commutative, so concurrent transactions never fail each other's checks on it. Several
        members for one item in this transaction merge into ONE Update (DynamoDB refuses two actions on
        one item): it costs one of the 100 items per distinct item, not per member. A member removed
        earlier in this transaction is added after all (the later call wins).

        `cap` (members, flag attribute) bounds the set, which DynamoDB's 400 KB item limit (and the
        write cost of a large item) would otherwise do by failing the transaction: the ADD is made on
        the condition that the set stays within the cap and is not flagged. When that condition fails,
        `commit` sends the transaction again with the ADD replaced by SET flag = true (`_fill`), so the
        set stops growing and its readers know it no longer holds every member.
        """
        edit = self._set_edit(table, key, attribute, meaning, entity_type)
        if cap is not None:
            edit.cap, edit.full_attribute = cap
        edit.removes.pop(member, None)
        if member not in edit.adds:
            edit.adds.append(member)
        self._render(edit)

    def remove_set_member(
        self,
        table: str,
        key: dict[str, Any],
        attribute: str,
        member: str,
        meaning: Meaning,
        entity_type: str | None = None,
        guard: dict[str, Any] | None = None,
    ) -> None:
        """DELETE `member` from the string set `attribute` of the item at `key` (no condition: removing a
        member that is not there changes nothing), merged with the item's other removals into ONE Update.

        DynamoDB refuses ADD and DELETE of one attribute in one update expression ("two document paths
        overlap"), and one transaction cannot write an item twice. So when this transaction also ADDs to
        the same item, the ADDs go in the transaction and the removals are sent right AFTER it commits
        (`deferred`), each with its `guard` (a ConditionCheck item that still holds only if the member
        must go: without it, a change committed in between could lose a member it just added). A removal
        that fails then only leaves a member that should have gone. A member added earlier in this
        transaction is removed after all (the later call wins).
        """
        edit = self._set_edit(table, key, attribute, meaning, entity_type)
        if member in edit.adds:
            edit.adds.remove(member)
        edit.removes[member] = guard
        self._render(edit)

    def _set_edit(
        self, table: str, key: dict[str, Any], attribute: str, meaning: Meaning, entity_type: str | None
    ) -> _SetEdit:
        marker = (table, json.dumps(key, sort_keys=True), attribute)
        edit = self._sets.get(marker)
        if edit is None:
            edit = _SetEdit(table, key, attribute, entity_type, len(self._items))
            self.add({"Update": {}}, meaning)
            self._sets[marker] = edit
        elif entity_type is not None:
            edit.entity_type = entity_type
        return edit

    def _render(self, edit: _SetEdit) -> None:
        """The item's one Update: its ADDs if it has any (its removals then wait for the commit), else
        its DELETEs."""
        names = {"#set": edit.attribute}
        values: dict[str, Any] = {}
        sets = []
        condition = None
        if edit.adds and edit.cap is not None and (edit.full or len(edit.adds) > edit.cap):
            edit.full = True
            expression = ""
            sets.append("#full = :full")
            names["#full"], values[":full"] = edit.full_attribute, {"BOOL": True}
            del names["#set"]
        elif edit.adds:
            expression = "ADD #set :members"
            values[":members"] = {"SS": list(edit.adds)}
            if edit.cap is not None:
                condition = "attribute_not_exists(#full) AND (attribute_not_exists(#set) OR size(#set) <= :room)"
                names["#full"], values[":room"] = edit.full_attribute, {"N": str(edit.cap - len(edit.adds))}
        else:
            expression = "DELETE #set :gone"
            values[":gone"] = {"SS": list(edit.removes)}
        if edit.entity_type is not None:
            # Says what the item is to whoever reads the table or its stream (the audit trail skips it).
            sets.append("#entity = :entity")
            names["#entity"] = "entity_type"
            values[":entity"] = {"S": edit.entity_type}
        if sets:
            expression = f"{expression} SET {', '.join(sets)}".strip()
        update = {
            "TableName": edit.table,
            "Key": edit.key,
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if condition is not None:
            update["ConditionExpression"] = condition
        self._items[edit.index]["Update"] = update

    @property
    def deferred(self) -> list[dict[str, Any]]:
        """The writes sent after the commit: one TransactWriteItems' items per removal that could not ride
        in the transaction (its item also gains members here): [its guard,] the DELETE of the member."""
        writes = []
        for edit in self._sets.values():
            if not edit.adds:
                continue
            for member, guard in edit.removes.items():
                delete = {
                    "Update": {
                        "TableName": edit.table,
                        "Key": edit.key,
                        "UpdateExpression": "DELETE #set :gone",
                        "ExpressionAttributeNames": {"#set": edit.attribute},
                        "ExpressionAttributeValues": {":gone": {"SS": [member]}},
                    }
                }
                writes.append([guard, delete] if guard is not None else [delete])
        return [{"TransactItems": items} for items in writes]

    def __len__(self) -> int:
        return len(self._items)

    @property
    def token(self) -> str:
        """The ClientRequestToken, fixed on first use (so every attempt sends the same one) until a capped
        set fills (`_fill`): the transaction is another from then on, and so is its token."""
        if self._token is None:
            full = sorted(json.dumps(edit.key, sort_keys=True) for edit in self._sets.values() if edit.full)
            command = self._command_id and "\n".join([self._command_id, *(f"full {key}" for key in full)])
            self._token = client_request_token(self._items, command)
        return self._token

    def _fill(self, reasons: list[dict[str, Any]]) -> bool:
        """When capped sets failed their condition (their ADD would pass the cap), mark them full (the
        transaction now flags them instead of adding) and say so: the caller sends it again. Even when other
        items failed too: sent again, a command that committed before with full sets carries the token it
        committed with and is answered as the success it was; anything else fails again on its own."""
        capped = {edit.index: edit for edit in self._sets.values() if edit.cap is not None and not edit.full}
        filled = [capped[i] for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed" and i in capped]
        for edit in filled:
            edit.full = True
            self._render(edit)
        if filled:
            self._token = None
        return bool(filled)

    def commit(self) -> None:
        """Write every item, or none: raises the domain error that explains a cancellation."""
        if self._committed:
            raise RuntimeError("a transaction is committed once")
        self._committed = True
        if not self._items:
            return
        self._check()
        request = {"TransactItems": self._items, "ClientRequestToken": self.token}
        lost = 0
        conflicts = 0
        while True:
            outcome = _send(request)
            if outcome is None:
                self._send_deferred()
                return
            kind, detail = outcome
            if kind == "cancelled" and self._fill(detail):
                request = {"TransactItems": self._items, "ClientRequestToken": self.token}
                continue
            if kind == "cancelled":
                reasons: list[dict[str, Any]] = detail
                codes = {r.get("Code") for r in reasons} - {"None", None}
                if codes and codes <= RETRYABLE_REASONS:
                    if conflicts >= CONFLICT_ATTEMPTS:
                        logger.error(
                            "transaction gave up", extra={"reasons": sorted(map(str, codes)), "attempts": conflicts}
                        )
                        raise Unavailable("storage is busy: nothing was written; send the request again")
                    conflicts += 1
                    logger.warning(
                        "transaction retried", extra={"reasons": sorted(map(str, codes)), "attempt": conflicts}
                    )
                    _backoff(conflicts)
                    continue
                raise self.explain(reasons)
            if kind == "throttled":
                if conflicts >= CONFLICT_ATTEMPTS:
                    logger.error("transaction gave up", extra={"reasons": [str(detail)], "attempts": conflicts})
                    raise Unavailable("storage is throttled: nothing was written; send the request again")
                conflicts += 1
                logger.warning("transaction retried", extra={"reasons": [str(detail)], "attempt": conflicts})
                _backoff(conflicts)
                continue
            if kind == "mismatch":
                raise DuplicateCommand("this command was already applied")
            if kind in ("lost", "in_progress") and lost < LOST_ATTEMPTS:
                lost += 1
                _backoff(lost + 2)
                continue
            raise detail

    def _send_deferred(self) -> None:
        """The removals that waited for the commit, each on its own: one that fails (its guard no longer
        holds, or DynamoDB refused it) leaves a member that should have gone, never a wrong answer."""
        for request in self.deferred:
            try:
                outcome = _send(request)
            except Exception as exc:  # the transaction committed: its request succeeded whatever this does
                logger.warning("a set member stayed", extra={"outcome": type(exc).__name__})
                continue
            if outcome is not None:
                logger.warning("a set member stayed", extra={"outcome": outcome[0]})

    def _check(self) -> None:
        if len(self._items) > TRANSACT_LIMIT:
            counts = Counter(m.entity for m in self._meanings)
            what = ", ".join(f"{n} {entity}" for entity, n in counts.most_common())
            message = (
                f"this request needs {len(self._items)} writes ({what}); "
                f"one request can make at most {TRANSACT_LIMIT}: send it in smaller parts"
            )
            raise TooManyWrites(message, [{"field": "body", "message": message}])
        seen: set[tuple[str, str, str]] = set()
        for item in self._items:
            key = _key_of(item)
            if key in seen:
                raise ValueError(f"a transaction writes each item once; {key} appears twice")
            seen.add(key)

    def explain(self, reasons: list[dict[str, Any]]) -> DomainError:
        """The domain error a cancellation means: the failed item whose role comes first decides."""
        failed = [
            (self._meanings[i], reason.get("Item"))
            for i, reason in enumerate(reasons)
            if reason.get("Code") == "ConditionalCheckFailed"
        ]
        if not failed:
            invalid = [
                (self._meanings[i], reason)
                for i, reason in enumerate(reasons)
                if reason.get("Code") not in (None, "None")
            ]
            meaning, reason = invalid[0] if invalid else (Meaning(Role.PLAIN), {})
            message = f"{meaning.entity} cannot be written: {reason.get('Message') or reason.get('Code')}"
            return ValidationFailed(message, [Problem(At(meaning.field or "body", meaning.index), message)])
        for role in PRECEDENCE:
            hits = [(m, old) for m, old in failed if m.role == role]
            if hits:
                return _error(role, hits)
        raise AssertionError("unreachable")


def _error(role: Role, hits: list[tuple[Meaning, dict[str, Any] | None]]) -> DomainError:
    first, old = hits[0]
    found = [Problem(At(m.field, m.index), _detail(role, m)) for m, _ in hits if m.field]
    details = list(dict.fromkeys(found))
    if role == Role.CHECKPOINT:
        return CheckpointMoved("the import job moved on without this worker")
    if role == Role.COMMAND:
        return DuplicateCommand("this command was already applied")
    if role == Role.GUARD:
        taken = ", ".join(f"{At(m.field, m.index).path if m.field else m.entity} {m.value}" for m, _ in hits)
        return AlreadyExists(f"already in use: {taken}", details)
    if role == Role.NEW:
        return AlreadyExists(f"{first.entity} {first.entity_id} already exists".replace("  ", " "), details)
    if role == Role.ALIVE:
        return InvalidState(f"{first.entity} {first.entity_id} was deleted or removed meanwhile", details)
    if role == Role.VERSION:
        return StaleVersion(f"the {first.entity} was changed by someone else; read it again", details)
    if role == Role.CLAIM:
        return InvalidState("the reservation or hold is no longer active", details)
    if role == Role.STOCK:
        return _stock_failure(first, old)
    return InvalidState("the change could not be applied", details)


def _detail(role: Role, meaning: Meaning) -> str:
    if role == Role.GUARD:
        return f"{meaning.value} is already in use"
    if role == Role.NEW:
        return "already exists"
    if role == Role.ALIVE:
        return "was deleted or removed meanwhile"
    if role == Role.VERSION:
        return "changed since it was read"
    return "could not be applied"


def _stock_failure(meaning: Meaning, old: dict[str, Any] | None) -> DomainError:
    """Which guard of a stock record change failed, read from the record as it was (ALL_OLD)."""
    if not old:
        return NotFound(f"stock record {meaning.entity_id} not found")
    version = Decimal(old["version"]["N"])
    on_hand = Decimal(old["on_hand"]["N"])
    available = Decimal(old["available"]["N"])
    if meaning.needs_active and not old.get("active", {}).get("BOOL", True):
        return InvalidState(
            f"stock record {meaning.entity_id} was deleted meanwhile",
            [Problem(At(meaning.field or "inventoryId", meaning.index), "was deleted meanwhile")],
        )
    if meaning.expected_version is not None and version != meaning.expected_version:
        return StaleVersion(f"stock record is at version {version}, not {meaning.expected_version}")
    if meaning.expected_on_hand is not None and on_hand != meaning.expected_on_hand:
        return ExpectationFailed(
            f"on hand is {on_hand}, not the expected {meaning.expected_on_hand}",
            [{"field": "expectedQuantity", "message": f"current on hand is {on_hand}"}],
        )
    return InsufficientStock(
        f"only {available} available", [{"field": "quantity", "message": f"available is {available}"}]
    )


def client_request_token(items: list[dict[str, Any]], command_id: str | None) -> str:
    """A command's transaction has one token (command + the keys it writes); any other, a hash of its items."""
    if command_id:
        written = sorted("|".join((action, *_key_of(item))) for item in items for action in item)
        source = command_id + "\n" + "\n".join(written)
    else:
        source = json.dumps(items, sort_keys=True, default=str)
    return str(uuid.uuid5(TOKEN_NAMESPACE, hashlib.sha256(source.encode()).hexdigest()))


def _key_of(item: dict[str, Any]) -> tuple[str, str, str]:
    (operation,) = item.values()
    key = operation.get("Key") or operation["Item"]
    return operation["TableName"], key["pk"]["S"], key["sk"]["S"]


def _send(request: dict[str, Any]) -> tuple[str, Any] | None:
    """One TransactWriteItems call: None on success, else what happened and its detail."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    from chalicelib.storage.dynamo import ddb

    try:
        ddb().transact_write_items(**request)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code == "TransactionCanceledException":
            return "cancelled", list(exc.response.get("CancellationReasons") or [])
        if code == "IdempotentParameterMismatchException":
            return "mismatch", exc
        if code == "TransactionInProgressException":
            return "in_progress", exc
        if code in THROTTLING_CODES:
            # Refused before it ran (botocore's own retries spent): safe to send again.
            return "throttled", code
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400) >= 500:
            # DynamoDB answered but could not say whether the transaction ran.
            return "lost", exc
        raise
    except (ConnectionError, HTTPClientError) as exc:
        # Timeouts and dropped connections: the transaction may have run.
        return "lost", exc
    return None


def _backoff(attempt: int) -> None:
    # Full jitter: the retries of many writers do not line up again.
    time.sleep(random.uniform(0, min(1.0, 0.025 * 2**attempt)))  # noqa: S311


class DynamoTransactions:
    """The core's Transactions port."""

    def begin(self, command_id: str | None = None) -> Transaction:
        return Transaction(command_id)


def own(uow: UnitOfWork | None) -> tuple[Transaction, bool]:
    """The transaction a store method adds to, and whether the method commits it itself."""
    if uow is None:
        return Transaction(), True
    if not isinstance(uow, Transaction):
        raise TypeError("a DynamoDB store adds its writes to a storage Transaction")
    return uow, False
