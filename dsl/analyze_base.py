"""What the analysis reports (findings, counterexamples) and the policy set as it reasons about
it: each rule's conditions in disjunctive form, where and when it applies, and the check of a
counterexample by the evaluator itself, so a reported project is a real one."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dsl import ast
from dsl.analyze_logic import Conjunct, Lit, Solution, TooComplex, dnf, solve
from dsl.decide import Citation, decide
from dsl.errors import Span
from dsl.interpret import Interpreter, atomic_tests, evaluate
from dsl.predicates import within
from dsl.resolved import PolicyR, PolicySet, RuleR, Test
from dsl.schema import FactValue
from dsl.vocabulary import Strength


class Kind(StrEnum):
    """The kinds of finding; their names are stable (JSON, tests, README)."""

    CONFLICT = "conflict"  # different outcomes or paths, no declared priority
    RESOLVED = "resolved"  # the same, settled by a declared priority
    PREVAILS = "prevails"  # a mandatory prohibition meets a path: the prohibition prevails
    UNREACHABLE = "unreachable"  # no project can fire the rule
    THRESHOLD_GAP = "threshold_gap"  # values between two documents' thresholds no rule decides
    THRESHOLD_OVERLAP = "threshold_overlap"  # values two documents' thresholds both claim
    SILENCED = "silenced"  # a presumptive rule always overridden by a mandatory one

    @property
    def severity(self) -> str:
        return _SEVERITY[self]


_SEVERITY = {
    Kind.CONFLICT: "error",
    Kind.RESOLVED: "info",
    Kind.PREVAILS: "info",
    Kind.UNREACHABLE: "warning",
    Kind.THRESHOLD_GAP: "warning",
    Kind.THRESHOLD_OVERLAP: "warning",
    Kind.SILENCED: "warning",
}


@dataclass(frozen=True)
class Counterexample:
    """A project (as `zhengce eval` reads it: facts and a date) and the decision's outcome."""

    project: tuple[tuple[str, FactValue], ...]
    date: str
    outcome: str

    def to_json(self) -> dict[str, Any]:
        return {"project": dict(self.project), "date": self.date, "outcome": self.outcome}


@dataclass(frozen=True)
class Finding:
    kind: Kind
    rules: tuple[str, ...]  # rule keys, policy/rule
    policies: tuple[str, ...]
    message: str
    citations: tuple[Citation, ...]  # the clauses of the rules, then of a declared priority
    counterexample: Counterexample | None = None
    spans: tuple[Span, ...] = field(default=(), compare=False)  # the rules' names in their files

    @property
    def severity(self) -> str:
        return self.kind.severity

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": str(self.kind),
            "severity": self.severity,
            "rules": list(self.rules),
            "policies": list(self.policies),
            "message": self.message,
            "citations": [
                {"policy": c.policy, "document": c.document, "clause": c.clause, "quote": c.quote}
                for c in self.citations
            ],
        }
        if self.counterexample is not None:
            body["counterexample"] = self.counterexample.to_json()
        return body


@dataclass(frozen=True)
class Analysis:
    findings: tuple[Finding, ...]
    revision: str
    not_analysed: tuple[str, ...]  # rules whose conditions expand too far to reason about

    def of_kind(self, kind: Kind) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.kind == kind)

    @property
    def conflicts(self) -> tuple[Finding, ...]:
        return self.of_kind(Kind.CONFLICT)

    def counts(self) -> dict[str, int]:
        return {str(k): len(self.of_kind(k)) for k in Kind}

    def to_json(self) -> dict[str, Any]:
        return {
            "findings": [f.to_json() for f in self.findings],
            "counts": self.counts(),
            "not_analysed": list(self.not_analysed),
            "revision": self.revision,
        }


# ---- the set under analysis ---------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Where and when a policy applies: its region and effective period ("" = open end)."""

    region: str
    start: str
    end: str

    @classmethod
    def of(cls, policy: PolicyR) -> Scope:
        h = policy.header
        return cls(h.region, h.effective_from, h.effective_until)

    def meet(self, other: Scope) -> Scope | None:
        """Where and when both apply, or None when they never do together."""
        if within(self.region, other.region):
            region = self.region
        elif within(other.region, self.region):
            region = other.region
        else:
            return None
        start = max(self.start, other.start)
        end = min((e for e in (self.end, other.end) if e), default="")
        return None if end and start > end else Scope(region, start, end)

    def covers(self, other: Scope) -> bool:
        """Whether this scope applies wherever and whenever `other` does."""
        return (
            within(other.region, self.region)
            and self.start <= other.start
            and (not self.end or (bool(other.end) and other.end <= self.end))
        )

    def literal(self) -> Lit:
        return Lit(Test("within", "region", values=(self.region,)), True)


class RuleSet:
    """The rules of a policy set with what the analysis keeps asking of them."""

    def __init__(self, policies: PolicySet) -> None:
        self.policies = policies
        self.schema = policies.schema
        self.by_policy = {p.id: p for p in policies.policies}
        self.rules = policies.rules
        self.interpreter = Interpreter(policies)
        self.conjuncts: dict[str, tuple[Conjunct, ...]] = {}
        self.too_complex: list[str] = []
        for r in self.rules:
            try:
                self.conjuncts[r.key] = dnf(r.cond)
            except TooComplex:
                self.too_complex.append(r.key)

    def scope(self, rule: RuleR) -> Scope:
        return Scope.of(self.by_policy[rule.policy])

    def analysed(self) -> list[RuleR]:
        return [r for r in self.rules if r.key in self.conjuncts]

    def solve(self, lits: Sequence[Lit], scope: Scope) -> Solution:
        return solve((*lits, scope.literal()), self.schema)

    def citations(
        self, rules: Iterable[RuleR], extra: Iterable[Citation] = ()
    ) -> tuple[Citation, ...]:
        found = [Citation.of(self.by_policy[r.policy], c) for r in rules for c in r.ast.cites]
        return tuple(dict.fromkeys([*found, *extra]))

    def cite(self, rule: RuleR, cite: ast.Cite) -> Citation:
        return Citation.of(self.by_policy[rule.policy], cite)

    def check(
        self,
        solution: Solution,
        scope: Scope,
        fire: Sequence[RuleR],
        silent: Sequence[RuleR] = (),
    ) -> Counterexample | None:
        """The solution as a project, when evaluating it really fires every rule of `fire`
        (or leaves it open on a parameter the text does not set) and none of `silent`."""
        if not solution.sat:
            return None
        facts, errors = self.schema.validate(dict(solution.facts))
        if errors:
            return None
        decision = decide(self.policies, self.interpreter, facts, scope.start, explain=False)
        in_force = set(decision.policies)
        for r in fire:
            result = evaluate(r.cond, facts)
            if r.policy not in in_force or not (result or (result is None and open_params(r))):
                return None
        if any(r.policy in in_force and evaluate(r.cond, facts) is not False for r in silent):
            return None
        return Counterexample(solution.facts, scope.start, str(decision.outcome))


def open_params(rule: RuleR) -> tuple[str, ...]:
    """The parameters the text leaves open that the rule's condition waits on."""
    return tuple(dict.fromkeys(t.param for t in atomic_tests(rule.cond) if t.unspecified))


def path_of(rule: RuleR) -> tuple[tuple[str, str], ...]:
    return tuple((s.authority, s.action) for s in rule.ast.steps)


def describe(rule: RuleR) -> str:
    """A rule as a finding names it: key, outcome and path."""
    steps = " → ".join(f"{a} {b}" for a, b in path_of(rule))
    outcome = str(rule.ast.outcome) if rule.ast.outcome else "no outcome"
    if rule.ast.strength != Strength.MANDATORY:
        outcome = f"{rule.ast.strength} {outcome}"
    return f"{rule.key} ({outcome}{': ' + steps if steps else ''})"
