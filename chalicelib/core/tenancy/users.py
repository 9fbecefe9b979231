"""The people of a company: who production tasks are assigned to (002 `UserId`, `Assignee`).

A user is not a credential: API keys act for the company, users are named
on tasks and batches. A user is found by id or by email (any case); an email
belongs to at most one user of a company (guard item, same transaction).
"""

from __future__ import annotations

import re
from typing import Protocol

from pydantic import Field

from chalicelib.core.errors import NotFound, ValidationFailed
from chalicelib.core.ids import new_id
from chalicelib.core.models import Actor, Entity
from chalicelib.core.ports import OffsetPage

# Deliberately loose: one @, something on both sides, a dot in the domain, no spaces.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class User(Entity):
    user_id: str = Field(default_factory=new_id)
    email: str
    name: str
    active: bool = True


class UserStore(Protocol):
    def create_user(self, user: User, actor: Actor) -> None: ...
    def get_user(self, tenant_id: str, user_id: str) -> User | None: ...
    def user_id_by_email(self, tenant_id: str, email: str) -> str | None: ...
    def page_users(self, tenant_id: str, offset: int, limit: int) -> OffsetPage[User]: ...


def normal_email(email: str) -> str:
    return email.strip().casefold()


class UserService:
    def __init__(self, store: UserStore) -> None:
        self._store = store

    def create(self, tenant_id: str, email: str, name: str, actor: Actor) -> User:
        email, name = email.strip(), name.strip()
        errors = []
        if not EMAIL.match(email):
            errors.append({"field": "email", "message": "not an email address"})
        if not name:
            errors.append({"field": "name", "message": "must not be empty"})
        if errors:
            raise ValidationFailed(f"invalid user: {errors[0]['field']}", errors)
        user = User(tenant_id=tenant_id, email=email, name=name)
        self._store.create_user(user, actor)
        return user

    def get(self, tenant_id: str, user_id: str) -> User:
        user = self._store.get_user(tenant_id, user_id)
        if user is None or not user.active:
            raise NotFound(f"user {user_id} not found")
        return user

    def find(self, tenant_id: str, id_or_email: str, field: str) -> User:
        """The user a request names by id or by email; a 400 naming `field` when it is not one of this company's."""
        wanted = id_or_email.strip()
        user_id: str | None = wanted
        if "@" in wanted:
            user_id = self._store.user_id_by_email(tenant_id, normal_email(wanted))
        user = self._store.get_user(tenant_id, user_id) if user_id else None
        if user is None or not user.active:
            raise ValidationFailed(f"no user {wanted} in this company", [{"field": field, "message": "unknown user"}])
        return user

    def page(self, tenant_id: str, offset: int, limit: int) -> OffsetPage[User]:
        return self._store.page_users(tenant_id, offset, limit)
