"""Depth and cost limits, checked while the document is validated: a refused query runs no resolver.

- depth: strawberry's QueryDepthLimiter (fragments followed), at most MAX_DEPTH levels;
- root fields: at most MAX_ROOT_FIELDS fields at the top of an operation, aliases counted one by one
  (`a: inventory(id: 1) b: inventory(id: 2)` is two), fragments and inline fragments followed;
- list arguments (ids, skus, representations, records) are bounded where each is declared.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)

MAX_DEPTH = 10
MAX_ROOT_FIELDS = 100
TOO_COMPLEX = "QUERY_TOO_COMPLEX"


class RootFieldLimit(ValidationRule):
    """Refuses an operation with more than MAX_ROOT_FIELDS root fields (each alias is one)."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        count = self._count(node.selection_set, set())
        if count > MAX_ROOT_FIELDS:
            name = f"'{node.name.value}'" if node.name else "the operation"
            self.report_error(
                GraphQLError(
                    f"{name} selects {count} root fields; at most {MAX_ROOT_FIELDS} (each alias counts)",
                    node,
                    extensions={"code": TOO_COMPLEX},
                )
            )

    def _count(self, selections: SelectionSetNode, seen: set[str]) -> int:
        count = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                count += 1
            elif isinstance(selection, InlineFragmentNode):
                count += self._count(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.context.get_fragment(name)
                # `seen` stops a fragment cycle here (the standard rules refuse the document for it anyway).
                if fragment is not None and name not in seen:
                    count += self._count(fragment.selection_set, seen | {name})
        return count


def extensions() -> list[Any]:
    """Factories of the schema extensions that enforce the limits (strawberry builds them per request)."""
    from strawberry.extensions import AddValidationRules, QueryDepthLimiter

    return [lambda: QueryDepthLimiter(max_depth=MAX_DEPTH), lambda: AddValidationRules([RootFieldLimit])]
