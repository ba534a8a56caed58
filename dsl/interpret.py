"""The reference evaluator and explainer: evaluates resolved conditions directly.

Three-valued (Kleene) logic: a missing fact or a parameter the text leaves open makes a test
unknown, and a rule whose condition is unknown is reported as undetermined, never guessed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dsl.predicates import compare, contains, in_industry, within
from dsl.resolved import AllOf, Cond, NotC, PolicySet, RuleR, Test
from dsl.schema import FactValue

Tri = bool | None  # True, False, or None for unknown


@dataclass(frozen=True)
class Firing:
    """Rule keys whose condition is definitely true, and those that are only possibly true."""

    definite: frozenset[str]
    possible: frozenset[str]


def test(t: Test, facts: Mapping[str, FactValue]) -> Tri:
    if t.unspecified:
        return None
    value = facts.get(t.field)
    if value is None:
        return None
    if t.kind == "bool":
        return bool(value)
    if t.kind == "cmp":
        return compare(t.op, float(value), t.value)
    if t.kind == "eq":
        return value in t.values
    if t.kind == "within":
        return within(str(value), t.values[0])
    if t.kind == "industry":
        return in_industry(str(value), t.values)
    return contains(str(value), t.values)


def evaluate(cond: Cond, facts: Mapping[str, FactValue]) -> Tri:
    if isinstance(cond, Test):
        return test(cond, facts)
    if isinstance(cond, NotC):
        inner = evaluate(cond.item, facts)
        return None if inner is None else not inner
    results = [evaluate(c, facts) for c in cond.items]
    if isinstance(cond, AllOf):
        if False in results:
            return False
        return None if None in results else True
    if True in results:
        return True
    return None if None in results else False


def fire(rules: Iterable[RuleR], facts: Mapping[str, FactValue]) -> Firing:
    definite, possible = set(), set()
    for r in rules:
        result = evaluate(r.cond, facts)
        if result is True:
            definite.add(r.key)
        elif result is None:
            possible.add(r.key)
    return Firing(frozenset(definite), frozenset(possible))


class Interpreter:
    """The `Evaluator` that walks the conditions in Python."""

    def __init__(self, policies: PolicySet) -> None:
        self.policies = policies
        self._by_policy = {p.id: p.rules for p in policies.policies}

    def fire(self, facts: Mapping[str, FactValue], policy_ids: Iterable[str]) -> Firing:
        return fire((r for pid in policy_ids for r in self._by_policy.get(pid, ())), facts)


@dataclass(frozen=True)
class Failure:
    """Why a condition did not hold: the test, whether it failed by holding (under a `not`),
    and the actual value (None when missing)."""

    test: Test
    negated: bool
    actual: FactValue | None


def first_failure(
    cond: Cond, facts: Mapping[str, FactValue], negated: bool = False
) -> Failure | None:
    """The first test, in reading order, that makes `cond` false (None if it is not false)."""
    if isinstance(cond, Test):
        result = test(cond, facts)
        # under a `not`, the test fails the rule by holding
        failed = result is not None and result == negated
        return Failure(cond, negated, facts.get(cond.field)) if failed else None
    if isinstance(cond, NotC):
        return first_failure(cond.item, facts, not negated)
    conjunctive = isinstance(cond, AllOf) != negated
    if conjunctive:
        for c in cond.items:
            f = first_failure(c, facts, negated)
            if f is not None:
                return f
        return None
    failures = [first_failure(c, facts, negated) for c in cond.items]
    if all(f is not None for f in failures):
        return failures[0]
    return None


def unknowns(cond: Cond, facts: Mapping[str, FactValue]) -> tuple[list[str], list[str]]:
    """Missing fact fields and unspecified parameters that leave `cond` unknown."""
    missing: list[str] = []
    params: list[str] = []
    for t in atomic_tests(cond):
        if t.unspecified and t.param not in params:
            params.append(t.param)
        if facts.get(t.field) is None and t.field not in missing:
            missing.append(t.field)
    return missing, params


def atomic_tests(cond: Cond) -> Iterable[Test]:
    if isinstance(cond, Test):
        yield cond
    elif isinstance(cond, NotC):
        yield from atomic_tests(cond.item)
    else:
        for c in cond.items:
            yield from atomic_tests(c)


# Comparison operators in complementary pairs: x >= p is exactly not (x < p).
_FAMILY = {">=": (">=", True), "<": (">=", False), ">": (">", True), "<=": (">", False)}
MAX_OPEN_TESTS = 12


def _key(t: Test) -> tuple[tuple[object, ...], bool]:
    """A variable for an unknown test, and whether the test is that variable or its negation."""
    if t.kind == "cmp":
        family, positive = _FAMILY[t.op]
        return ("cmp", t.field, t.param or t.value, family), positive
    return (t.kind, t.field, t.values), True


def _evaluate_with(
    cond: Cond, facts: Mapping[str, FactValue], assumed: Mapping[tuple[object, ...], bool]
) -> bool:
    if isinstance(cond, Test):
        known = test(cond, facts)
        if known is not None:
            return known
        key, positive = _key(cond)
        return assumed[key] == positive
    if isinstance(cond, NotC):
        return not _evaluate_with(cond.item, facts, assumed)
    results = (_evaluate_with(c, facts, assumed) for c in cond.items)
    return all(results) if isinstance(cond, AllOf) else any(results)


def always_one_applies(conds: list[Cond], facts: Mapping[str, FactValue]) -> bool:
    """True when, whatever values the unknown tests take, at least one condition holds; so
    a missing fact or an open parameter changes which path applies, not whether one does.
    Unrelated unknowns are treated as independent, which can only make this say False."""
    keys = list(
        dict.fromkeys(_key(t)[0] for c in conds for t in atomic_tests(c) if test(t, facts) is None)
    )
    if not conds or len(keys) > MAX_OPEN_TESTS:
        return False
    for bits in itertools.product((False, True), repeat=len(keys)):
        assumed = dict(zip(keys, bits, strict=True))
        if not any(_evaluate_with(c, facts, assumed) for c in conds):
            return False
    return True
