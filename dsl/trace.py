"""What a decision rests on, for the reviewer: which facts were given and which a schema
default supplied, and, for each rule that fired, each of its conditions against the facts.

The conditions are the resolved atomic tests in reading order, each with the polarity the
rule gives it (a test under `非` must fail), so `op` and the text say what must hold.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from dsl.explain_text import describe
from dsl.resolved import AllOf, AnyOf, Cond, NotC, RuleR, Test
from dsl.schema import Facts, FactValue, Schema

GIVEN, DEFAULT = "given", "default"


@dataclass(frozen=True)
class FactUsed:
    """A fact the decision was made on; `source` is "given" or "default" (the schema's
    default supplied it because the project left the field out)."""

    name: str
    value: FactValue
    source: str


@dataclass(frozen=True)
class ConditionTrace:
    """One atomic condition of a fired rule: the field, what must hold (`op`, `expected`),
    the actual value ("" when missing), whether it holds (None: unknown) and the sentence."""

    field: str
    op: str
    expected: str
    actual: str
    holds: bool | None
    text: str


@dataclass(frozen=True)
class RuleTrace:
    rule: str
    title: str
    conditions: tuple[ConditionTrace, ...]


def facts_used(facts: Mapping[str, FactValue], schema: Schema) -> tuple[FactUsed, ...]:
    """Every fact, in the schema's field order. Only `Facts` (what Schema.validate returns)
    knows which values came from defaults; facts built by hand count as given."""
    defaulted = facts.defaulted if isinstance(facts, Facts) else frozenset()
    return tuple(
        FactUsed(f.name, facts[f.name], DEFAULT if f.name in defaulted else GIVEN)
        for f in schema.fields
        if f.name in facts
    )


def polar_tests(cond: Cond, positive: bool = True) -> Iterator[tuple[Test, bool]]:
    """Each atomic test in reading order, with whether the rule needs it to hold (False
    under an odd number of `非`)."""
    if isinstance(cond, Test):
        yield cond, positive
    elif isinstance(cond, NotC):
        yield from polar_tests(cond.item, not positive)
    elif isinstance(cond, AllOf | AnyOf):
        for c in cond.items:
            yield from polar_tests(c, positive)


def trace_rule(rule: RuleR, facts: Mapping[str, FactValue], schema: Schema) -> RuleTrace:
    """A fired rule's conditions. Every one joined by `且` holds; a branch of `或` that did
    not is listed too, with holds false or unknown, so the reviewer sees which branch applied."""
    conditions = []
    for t, positive in polar_tests(rule.cond):
        d = describe(t, positive, facts, schema)
        conditions.append(ConditionTrace(t.field, d.op, d.expected, d.actual, d.holds, d.text))
    return RuleTrace(rule.key, rule.ast.title, tuple(conditions))
