"""The import kinds: each feature that imports CSV files registers its kind here.

A kind names who may read and start its jobs and how its applier is built, so
the generic import machinery (jobs, routes, the queue) never names a feature.
A kind nobody registered is for admin keys only: a new kind is never open to
more keys than intended before someone decides who may see it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.core.imports.jobs import Applier
from chalicelib.core.tenancy.permissions import Permission


@dataclass(frozen=True)
class ImportKind:
    name: str
    read: Permission
    write: Permission
    # Builds the kind's applier from the composition root (chalicelib.wiring), which the core cannot import.
    build: Callable[[Any], Applier]
    description: str = ""


_kinds: dict[str, ImportKind] = {}


def register(kind: ImportKind) -> ImportKind:
    _kinds[kind.name] = kind
    return kind


def kinds() -> tuple[ImportKind, ...]:
    return tuple(_kinds[name] for name in sorted(_kinds))


def names() -> tuple[str, ...]:
    return tuple(sorted(_kinds))


def permission(name: str, *, write: bool = False) -> str:
    """The permission that reads (or, with `write`, starts) an import job of kind `name`."""
    kind = _kinds.get(name)
    if kind is None:
        return Permission.ADMIN.value
    return (kind.write if write else kind.read).value


def read_any() -> tuple[str, ...]:
    """Job routes let in a key that may read at least one kind, then check the job's own kind."""
    return tuple(sorted({kind.read.value for kind in _kinds.values()}))


def write_any() -> tuple[str, ...]:
    return tuple(sorted({kind.write.value for kind in _kinds.values()}))
