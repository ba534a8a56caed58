"""The checked, resolved form of policies that every evaluator runs.

Field references are canonical schema names, enum values canonical, and every operand is a
float in the field's own unit, so the interpreter and the Rete compiler compare the very same
numbers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

from dsl import ast
from dsl.schema import Schema

# Comparison spellings -> the operator they mean. 以上/以下/以内 include the number itself
# (民法典 第1259条); 超过/不足/低于 do not.
COMPARATORS: dict[str, str] = {
    ">=": ">=",
    "at_least": ">=",
    "以上": ">=",
    "不低于": ">=",
    "不少于": ">=",
    "<=": "<=",
    "at_most": "<=",
    "以下": "<=",
    "以内": "<=",
    "不超过": "<=",
    "不高于": "<=",
    ">": ">",
    "more_than": ">",
    "超过": ">",
    "高于": ">",
    "<": "<",
    "less_than": "<",
    "不足": "<",
    "低于": "<",
}

NEGATED = {">=": "<", "<": ">=", "<=": ">", ">": "<="}


@dataclass(frozen=True)
class Test:
    """One atomic condition.

    kind: bool | cmp | eq (enum value in `values`) | within | contains | industry (every code
    and name of the classes tested in `values`, so evaluators need no classification)
    `param` names the parameter behind a cmp operand; `unspecified` when the text leaves it open.
    """

    kind: str
    field: str
    op: str = ""
    value: float = 0.0
    values: tuple[str, ...] = ()
    param: str = ""
    unspecified: bool = False
    source: ast.Atom | None = dataclasses.field(default=None, compare=False)


@dataclass(frozen=True)
class AllOf:
    items: tuple[Cond, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Cond, ...]


@dataclass(frozen=True)
class NotC:
    item: Cond


Cond = Test | AllOf | AnyOf | NotC


@dataclass(frozen=True)
class ParamValue:
    name: str
    value: str  # as written, e.g. 1000万元; "" when unspecified
    unit: str
    unspecified: bool
    cites: tuple[ast.Cite, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class RuleR:
    key: str  # policy-id/rule-name, unique in a policy set
    policy: str
    ast: ast.Rule
    cond: Cond
    params: tuple[str, ...]
    # The text's words for a qualified strength (原则上, 依法 …), found by the checker in the
    # normalised quotes: a decision repeats them beside the outcome.
    qualifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class RouteR:
    key: str
    policy: str
    ast: ast.Route
    lead: tuple[str, ...]
    responsible: tuple[str, ...]
    assisting: tuple[str, ...]


@dataclass(frozen=True)
class PolicyR:
    header: ast.PolicyHeader
    path: str
    rules: tuple[RuleR, ...]
    routes: tuple[RouteR, ...]
    params: dict[str, ParamValue]
    skips: tuple[ast.Skip, ...]
    # What the source document is (its metadata's provenance: official, news_report,
    # unofficial_copy, reprint), "" when unknown; every citation of the policy carries it.
    provenance: str = ""

    @property
    def id(self) -> str:
        return self.header.id

    def cites(self) -> tuple[tuple[str, ast.Cite], ...]:
        """Every citation of the policy, with the name of the rule, route or parameter that
        makes it: rules first, then routes, then parameters, each in file order."""
        named = [(r.ast.name, r.ast.cites) for r in self.rules]
        named += [(r.ast.name, r.ast.cites) for r in self.routes]
        named += [(p.name, p.cites) for p in self.params.values()]
        return tuple((name, c) for name, cites in named for c in cites)


@dataclass(frozen=True)
class PolicySet:
    schema: Schema
    policies: tuple[PolicyR, ...]
    revision: str

    @property
    def rules(self) -> tuple[RuleR, ...]:
        return tuple(r for p in self.policies for r in p.rules)

    @cached_property
    def routes(self) -> tuple[RouteR, ...]:
        # Kept, as the set never changes: a route request reads it three times, and building
        # it took 11 µs a read with the seed set's 99 routes.
        return tuple(r for p in self.policies for r in p.routes)

    def policy(self, policy_id: str) -> PolicyR | None:
        return next((p for p in self.policies if p.id == policy_id), None)


def split_units(original: str) -> tuple[str, ...]:
    """Split a unit list as the text writes it (、，, and ；) when no explicit names are given."""
    parts: list[str] = []
    depth, current = 0, ""
    for ch in original:
        if ch in "(（":
            depth += 1
        elif ch in ")）":
            depth -= 1
        if depth == 0 and ch in "、，,；;":
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return tuple(p.strip() for p in parts if p.strip())
