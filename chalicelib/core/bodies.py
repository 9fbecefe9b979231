"""The base of every request body model: a field it does not know is a 400 naming it.

`"qty": 5` instead of `"quantity": 5` must not pass silently (the item would
get quantity 0), so every request model forbids unknown fields. Clients
often send back what they read: the fields the surface's own answers carry
and no request can set (ids, timestamps, resolved labels) are named in
`read_only` and dropped before validation, so a GET-then-PUT round trip
works; any other unknown field is refused, all of them in one answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from chalicelib.core.models import Model
from chalicelib.core.tenancy.users import EMAIL
from chalicelib.core.values import Text


def _email(value: str) -> str:
    if not EMAIL.match(value.strip()):
        raise ValueError("not an email address")
    return value.strip()


# An email address in a request body (OpenAPI `format: email`), checked as a company user's is.
Email = Annotated[Text, Field(max_length=320, json_schema_extra={"format": "email"}), AfterValidator(_email)]


class Body(Model):
    """A request body: unknown fields are refused; `read_only` fields (server-owned) are ignored."""

    model_config = ConfigDict(extra="forbid")

    # Fields of the surface's answers a client may send back unchanged: accepted and ignored.
    read_only: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _drop_read_only(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls.read_only:
            own = cls.model_fields
            return {k: v for k, v in data.items() if k in own or k not in cls.read_only}
        return data


def answer_fields(*models: type[Model], extra: Iterable[str] = ()) -> frozenset[str]:
    """The field names of the given answer models (and `extra`): a request's `read_only`."""
    return frozenset(name for model in models for name in model.model_fields) | frozenset(extra)
