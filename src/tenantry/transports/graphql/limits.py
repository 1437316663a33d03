"""What one GraphQL document may ask for, checked before anything runs: its depth, tokens and
aliases (strawberry's limiters), and an estimated cost that multiplies every list by the number
of items it may hold, so a nested `members { user { memberships { tenant { members ... } } } }`
fan-out is refused however shallow it is."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    get_named_type,
)
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from tenantry.domain.pagination import DEFAULT_LIMIT, MAX_LIMIT

MAX_DEPTH = 8
MAX_TOKENS = 2_000
MAX_ALIASES = 15
# Objects a query may plan to return: the page sizes allow `projects { items { environments } }`
# (50 x 50) or `me { memberships { tenant { members { user } } } }`, not one level more.
MAX_COST = 10_000


class QueryCost(ValidationRule):
    """Refuses an operation whose estimated cost is over `MAX_COST`. Every object field costs
    1, times the size of each list around it: its `limit` argument (a variable counts as
    the maximum, 200), else 50; scalars and introspection are free."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
        root = self.context.schema.get_root_type(node.operation)
        if root is None:
            return
        cost = self._cost(node.selection_set, root, inherited=None, seen=frozenset())
        if cost > MAX_COST:
            self.report_error(
                GraphQLError(
                    f"This query could return about {cost} objects, over the limit of "
                    f"{MAX_COST}: ask for fewer items (`limit`) or fewer nested lists.",
                    node,
                )
            )

    def _cost(
        self,
        selections: SelectionSetNode | None,
        parent: GraphQLNamedType,
        *,
        inherited: int | None,
        seen: frozenset[str],
    ) -> int:
        total = 0
        for selection in selections.selections if selections else ():
            if isinstance(selection, FieldNode):
                total += self._field_cost(selection, parent, inherited=inherited, seen=seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                kind = self.context.schema.get_type(condition.name.value) if condition else parent
                total += self._cost(
                    selection.selection_set, kind or parent, inherited=inherited, seen=seen
                )
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.context.get_fragment(name)
                if fragment is None or name in seen:
                    continue
                kind = self.context.schema.get_type(fragment.type_condition.name.value)
                total += self._cost(
                    fragment.selection_set, kind or parent, inherited=inherited, seen=seen | {name}
                )
        return total

    def _field_cost(
        self,
        node: FieldNode,
        parent: GraphQLNamedType,
        *,
        inherited: int | None,
        seen: frozenset[str],
    ) -> int:
        if node.name.value.startswith("__") or not isinstance(
            parent, GraphQLObjectType | GraphQLInterfaceType
        ):
            return 0
        field = parent.fields.get(node.name.value)
        if field is None:
            return 0  # reported by the standard rules
        named = get_named_type(field.type)
        if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            return 0
        # A page's `limit` sizes the list below it (`members(limit: 5) { items { ... } }`).
        size = _limit(node) or inherited
        field_type = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        if isinstance(field_type, GraphQLList):
            below = self._cost(node.selection_set, named, inherited=None, seen=seen)
            return (size or DEFAULT_LIMIT) * (1 + below)
        return 1 + self._cost(node.selection_set, named, inherited=size, seen=seen)


def _limit(node: FieldNode) -> int | None:
    for argument in node.arguments or ():
        if argument.name.value == "limit":
            value = argument.value
            # Out-of-range values fail in the resolver; here they must not lower the sum.
            return max(1, int(value.value)) if isinstance(value, IntValueNode) else MAX_LIMIT
    return None


EXTENSIONS: list[Callable[[], SchemaExtension]] = [
    partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
    partial(MaxAliasesLimiter, max_alias_count=MAX_ALIASES),
    partial(QueryDepthLimiter, max_depth=MAX_DEPTH),
    partial(AddValidationRules, [QueryCost]),
]
