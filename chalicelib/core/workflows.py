"""Every 001 workflow's state machine, in ONE place: states, the actions each state allows, the 409 a
disallowed action gets, and the record of every transition (who, when, from, to, comment).

A feature never compares statuses itself to decide whether something may happen: it asks its
`Machine` (`machine.move(current, action)`), which answers the next state or raises `InvalidState`
naming the current state and what it allows. Cycle counts, put-away tasks, transfers, replenishment
records and stock requests declare their machines here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from pydantic import Field

from chalicelib.core.errors import InvalidState
from chalicelib.core.ids import utcnow
from chalicelib.core.models import Actor, Entity, Model
from chalicelib.core.ports import UnitOfWork

W = TypeVar("W")
E = TypeVar("E", bound=Entity)


class Transition(Model):
    """One recorded step of a work item: who moved it, when, from which state to which, and why."""

    action: str
    from_state: str
    to_state: str
    by_id: str
    by_name: str
    at: datetime = Field(default_factory=utcnow)
    comment: str | None = None


@dataclass(frozen=True)
class Machine:
    """A workflow: for each state, the actions it allows and the state each leads to."""

    name: str
    initial: str
    actions: Mapping[str, Mapping[str, str]]

    @property
    def states(self) -> tuple[str, ...]:
        found = [self.initial, *self.actions]
        for targets in self.actions.values():
            found += list(targets.values())
        return tuple(dict.fromkeys(found))

    def allowed(self, state: str) -> list[str]:
        """The actions `state` allows, in declaration order (none for a final state)."""
        return list(self.actions.get(state, {}))

    def allows(self, state: str, action: str) -> bool:
        return action in self.actions.get(state, {})

    def target(self, state: str, action: str, field: str = "action") -> str:
        """The state `action` leads to from `state`; a 409 naming both and what is allowed otherwise."""
        targets = self.actions.get(state, {})
        if action not in targets:
            allowed = ", ".join(targets) or "none (final state)"
            raise InvalidState(
                f"{self.name} is {state}: cannot {action} (allowed: {allowed})",
                [{"field": field, "message": f"current state is {state}; allowed transitions: {allowed}"}],
            )
        return targets[action]

    def move(
        self,
        state: str,
        action: str,
        actor: Actor,
        *,
        comment: str | None = None,
        to_state: str | None = None,
        field: str = "action",
    ) -> Transition:
        """Check `action` from `state` and record it. `to_state` overrides the declared target for an
        action that may leave the state where it is (a partial receipt stays `shipped`)."""
        target = self.target(state, action, field)
        return Transition(
            action=action,
            from_state=state,
            to_state=to_state or target,
            by_id=actor.id,
            by_name=actor.name,
            comment=comment,
        )


def transition_out(t: Transition) -> dict[str, object]:
    """The documented form of a transition record."""
    return {
        "action": t.action,
        "from": t.from_state,
        "to": t.to_state,
        "by": {"id": t.by_id, "name": t.by_name},
        "at": t.at,
        "comment": t.comment,
    }


CYCLE_COUNT = Machine(
    "cycle count",
    "open",
    {
        "open": {"count": "counting", "review": "review", "cancel": "cancelled"},
        "counting": {"count": "counting", "review": "review", "cancel": "cancelled"},
        "review": {"count": "counting", "resolve": "completed", "cancel": "cancelled"},
    },
)

PUT_AWAY = Machine("put-away task", "open", {"open": {"complete": "completed", "cancel": "cancelled"}})

TRANSFER = Machine(
    "transfer",
    "draft",
    {
        "draft": {"ship": "shipped", "complete": "completed", "cancel": "cancelled"},
        "shipped": {"receive": "received", "cancel": "cancelled"},
    },
)

REPLENISHMENT = Machine(
    "replenishment",
    "open",
    {
        "open": {"order": "ordered", "receive": "received", "cancel": "cancelled"},
        "ordered": {"receive": "received", "cancel": "cancelled"},
    },
)

STOCK_REQUEST = Machine(
    "stock request",
    "draft",
    {
        "draft": {"submit": "submitted", "cancel": "cancelled"},
        "submitted": {"approve": "approved", "reject": "rejected", "cancel": "cancelled"},
        "approved": {"fulfil": "fulfilled", "cancel": "cancelled"},
        "rejected": {"submit": "submitted", "cancel": "cancelled"},
    },
)


class WorkItems(Protocol[W]):
    """Storage of one kind of work item (storage/workitems.DynamoWorkItems): writes join a unit of work."""

    def add_new(self, doc: W, actor: Actor, uow: UnitOfWork) -> None:
        """Create `doc` (AlreadyExists when its id is taken)."""

    def add_save(self, doc: W, read_version: int, actor: Actor, uow: UnitOfWork) -> None:
        """Write `doc` whole, guarded on `read_version` (StaleVersion when another writer moved it)."""

    def add_delete(self, doc: W, actor: Actor, uow: UnitOfWork) -> None:
        """Remove `doc`, guarded on its version."""

    def get(self, tenant_id: str, item_id: str) -> W | None: ...
    def get_many(self, tenant_id: str, item_ids: list[str]) -> dict[str, W]: ...
    def list_all(self, tenant_id: str) -> list[W]: ...


def bumped(doc: E, **changes: object) -> E:
    """`doc` with `changes`, its version moved on and its update time set (saved with the old version as guard)."""
    return doc.model_copy(update={**changes, "version": doc.version + 1, "updated_at": utcnow()})
