"""Conflict and gap analysis of a policy set (`zhengce analyze`).

Every pair of rules that can apply to one project (their policies' regions nest and their
effective periods meet, and their conditions hold together) is looked at:
- different outcomes or paths with no declared priority: a `conflict`, with a counterexample
  project the evaluator confirms; with a declared priority (例外 / 优先于, either way): `resolved`;
  a mandatory prohibition meeting an approval or filing path: `prevails`, since the decision
  lets such a prohibition prevail;
- a rule no project can fire: `unreachable`;
- thresholds of two documents on one field that leave values undecided or claim the same
  values: `threshold_gap`, `threshold_overlap` (dsl.analyze_thresholds);
- a presumptive rule that, whenever it fires, is overridden by a mandatory one: `silenced`.

The reasoning (dsl.analyze_logic) is exact for the conditions the language has, on complete
facts: a rule left undetermined by a missing fact is not considered to fire.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from dsl import ast
from dsl.analyze_base import (
    Analysis,
    Counterexample,
    Finding,
    Kind,
    RuleSet,
    Scope,
    describe,
    open_params,
    path_of,
)
from dsl.analyze_logic import TooComplex, dnf
from dsl.analyze_thresholds import threshold_findings
from dsl.errors import Span
from dsl.resolved import AnyOf, PolicySet, RuleR
from dsl.vocabulary import Outcome, Strength

__all__ = ["Analysis", "ConflictIssue", "Finding", "Kind", "analyze", "conflict_issues"]

_PATHS = (Outcome.APPROVE, Outcome.FILE)


def analyze(policies: PolicySet) -> Analysis:
    rs = RuleSet(policies)
    findings = [*_unreachable(rs), *_pairs(rs), *_silenced(rs), *threshold_findings(rs)]
    findings.sort(key=lambda f: list(Kind).index(f.kind))  # conflicts first, as Kind lists
    return Analysis(tuple(findings), policies.revision, tuple(rs.too_complex))


@dataclass(frozen=True)
class ConflictIssue:
    """An unresolved conflict as the checker reports it: at the first rule's name."""

    span: Span
    message: str
    hint: str


def conflict_issues(analysis: Analysis) -> tuple[ConflictIssue, ...]:
    """The unresolved conflicts as checker diagnostics would carry them."""
    hint = (
        "declare which rule prevails, citing the clause that says so: 例外 (exception_to) or "
        "优先于 (prevails_over) a rule or a policy"
    )
    return tuple(
        ConflictIssue(f.spans[0] if f.spans else Span(), f.message, hint)
        for f in analysis.conflicts
    )


# ---- single rules -------------------------------------------------------------------------


def _unreachable(rs: RuleSet) -> list[Finding]:
    found = []
    for r in rs.analysed():
        scope = rs.scope(r)
        reasons = [rs.solve(c, scope).contradiction for c in rs.conjuncts[r.key]]
        if all(reasons):
            why = "; ".join(dict.fromkeys(reasons)) or "it requires a test and its negation"
            found.append(
                Finding(
                    Kind.UNREACHABLE,
                    (r.key,),
                    (r.policy,),
                    f"{r.key}: no project in {scope.region} can fire it ({why})",
                    rs.citations([r]),
                    spans=(r.ast.name_span,),
                )
            )
    return found


# ---- pairs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Meeting:
    """Whether two rules can fire together, and a project on which they do."""

    possible: bool
    counterexample: Counterexample | None


def _meet(rs: RuleSet, rules: Sequence[RuleR], scope: Scope) -> _Meeting:
    possible = False
    for conjuncts in itertools.product(*(rs.conjuncts[r.key] for r in rules)):
        solution = rs.solve([lit for c in conjuncts for lit in c], scope)
        if not solution.sat:
            continue
        found = rs.check(solution, scope, fire=rules)
        if found is not None:
            return _Meeting(True, found)
        # a solution that evaluation refutes is only trusted when it names every value
        possible = possible or not solution.complete
    return _Meeting(possible, None)


def _pairs(rs: RuleSet) -> list[Finding]:
    deciding = [r for r in rs.analysed() if r.ast.outcome is not None]
    found = []
    for a, b in itertools.combinations(deciding, 2):
        if a.ast.outcome == b.ast.outcome and (
            a.ast.outcome == Outcome.PROHIBIT or path_of(a) == path_of(b)
        ):
            continue
        scope = rs.scope(a).meet(rs.scope(b))
        if scope is None:
            continue
        meeting = _meet(rs, (a, b), scope)
        if meeting.possible:
            found.append(_pair_finding(rs, a, b, meeting.counterexample))
    return found


def _pair_finding(rs: RuleSet, a: RuleR, b: RuleR, example: Counterexample | None) -> Finding:
    both = f"{describe(a)} and {describe(b)} apply to the same project"
    if example is None:
        both += " (no concrete project could be built to confirm it)"
    elif open_params(a) or open_params(b):
        params = "、".join(dict.fromkeys((*open_params(a), *open_params(b))))
        both += f" once the parameter {params} the text leaves open is set"
    declared = [(w, o, p) for w, o in ((a, b), (b, a)) if (p := priority(w, o)) is not None]
    extra = [rs.cite(w, p.cite) for w, _, p in declared]
    if declared:
        kind = Kind.RESOLVED
        winner, loser, _ = declared[0]
        message = f"{both}; {winner.key} prevails over {loser.key} as declared"
    elif (prohibition := _mandatory_prohibition(a, b)) is not None:
        kind = Kind.PREVAILS
        other = b if prohibition is a else a
        message = f"{both}; the mandatory prohibition {prohibition.key} prevails over {other.key}"
    else:
        kind = Kind.CONFLICT
        message = f"{both}, and no priority is declared between them"
    return Finding(
        kind,
        (a.key, b.key),
        tuple(dict.fromkeys((a.policy, b.policy))),
        message,
        rs.citations([a, b], extra),
        example,
        (a.ast.name_span, b.ast.name_span),
    )


def priority(winner: RuleR, loser: RuleR) -> ast.Priority | None:
    """The declaration by which `winner` prevails over `loser` (as an exception to it, or
    over it or its whole policy), if there is one."""
    for p in (*winner.ast.exception_to, *winner.ast.prevails_over):
        same_policy = winner.policy == loser.policy and p.target == loser.ast.name
        if same_policy or p.target in (loser.key, loser.policy):
            return p
    return None


def _mandatory_prohibition(a: RuleR, b: RuleR) -> RuleR | None:
    """The rule of the two that is a mandatory prohibition facing the other's path."""
    for p, other in ((a, b), (b, a)):
        if _is_mandatory_prohibition(p) and other.ast.outcome in _PATHS:
            return p
    return None


def _is_mandatory_prohibition(r: RuleR) -> bool:
    return r.ast.outcome == Outcome.PROHIBIT and r.ast.strength == Strength.MANDATORY


# ---- presumptive rules silenced -----------------------------------------------------------


def _beats(m: RuleR, p: RuleR) -> bool:
    """Whether mandatory rule `m`, firing with `p`, overrides `p`'s outcome."""
    if m.ast.outcome is None or m.ast.outcome == p.ast.outcome:
        return False
    return (_is_mandatory_prohibition(m) and p.ast.outcome in _PATHS) or priority(m, p) is not None


def _silenced(rs: RuleSet) -> list[Finding]:
    found = []
    for p in rs.analysed():
        if p.ast.strength != Strength.PRESUMPTIVE or p.ast.outcome is None:
            continue
        scope = rs.scope(p)
        beaters = [
            m
            for m in rs.analysed()
            if m.ast.strength == Strength.MANDATORY
            and rs.scope(m).covers(scope)
            and _beats(m, p)
            and _meet(rs, (p, m), scope).possible  # only those that can fire with p
        ]
        verdict = _always_beaten(rs, p, beaters, scope) if beaters else None
        if verdict is not None and verdict.possible:
            names = "、".join(m.key for m in beaters)
            found.append(
                Finding(
                    Kind.SILENCED,
                    (p.key, *(m.key for m in beaters)),
                    tuple(dict.fromkeys((p.policy, *(m.policy for m in beaters)))),
                    f"whenever the presumptive {describe(p)} fires, the mandatory {names} "
                    "fires too and overrides it: the presumption never decides",
                    rs.citations([p, *beaters]),
                    verdict.counterexample,
                    (p.ast.name_span,),
                )
            )
    return found


def _always_beaten(rs: RuleSet, p: RuleR, beaters: list[RuleR], scope: Scope) -> _Meeting:
    """Possible when `p` can fire and, on every project where it does, one of `beaters`
    fires too; with a project on which `p` fires. Too large a negation is not decided."""
    try:
        escapes = dnf(AnyOf(tuple(m.cond for m in beaters)), positive=False)
    except TooComplex:
        return _Meeting(False, None)
    fires, example = False, None
    for conjunct in rs.conjuncts[p.key]:
        solution = rs.solve(conjunct, scope)
        if not solution.sat:
            continue
        if any(rs.solve((*conjunct, *e), scope).sat for e in escapes):
            return _Meeting(False, None)
        fires = True
        example = example or rs.check(solution, scope, fire=(p,))
    return _Meeting(fires, example)
