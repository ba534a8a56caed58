"""Thresholds of two documents on one numeric field, for the same kind of project (their
other tests can hold together), in policies that apply to one region at one time:
- `threshold_gap`: the values between their ranges that no rule with an outcome decides
  (one says 1000万元以上 is filed, the other 不足500万元 is approved: [500, 1000) is open);
- `threshold_overlap`: values both claim, where their bounds differ (one from 2000, the other
  from 3000: [3000, ∞) falls under both).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from dsl.analyze_base import Counterexample, Finding, Kind, RuleSet, Scope
from dsl.analyze_logic import Conjunct, Interval, Lit, interval_of, without_field
from dsl.resolved import RuleR


def threshold_findings(rs: RuleSet) -> list[Finding]:
    deciding = [r for r in rs.analysed() if r.ast.outcome is not None]
    found: dict[tuple[str, str, str], Finding] = {}
    for a, b in itertools.combinations(deciding, 2):
        scope = rs.scope(a).meet(rs.scope(b))
        if a.policy == b.policy or scope is None:
            continue
        for ca, cb in itertools.product(rs.conjuncts[a.key], rs.conjuncts[b.key]):
            for field in _numeric_fields(ca) & _numeric_fields(cb):
                if (a.key, b.key, field) in found:
                    continue
                finding = _compare(rs, (a, ca), (b, cb), field, scope, deciding)
                if finding is not None:
                    found[(a.key, b.key, field)] = finding
    return list(found.values())


def _numeric_fields(conjunct: Conjunct) -> set[str]:
    return {
        lit.test.field for lit in conjunct if lit.test.kind == "cmp" and not lit.test.unspecified
    }


def _compare(
    rs: RuleSet,
    first: tuple[RuleR, Conjunct],
    second: tuple[RuleR, Conjunct],
    field: str,
    scope: Scope,
    deciding: Sequence[RuleR],
) -> Finding | None:
    (a, ca), (b, cb) = first, second
    ia, ib = interval_of(ca, field), interval_of(cb, field)
    if ia is None or ib is None or ia.empty or ib.empty or ia == ib:
        return None
    context = (*without_field(ca, field), *without_field(cb, field))
    if not rs.solve(context, scope).sat:
        return None  # never the same kind of project
    f = rs.schema.field(field)
    label, unit = (f.label, f.type.unit) if f is not None else (field, "")
    ranges = f"{a.key} takes {label} {ia.show(unit)}, {b.key} takes {ib.show(unit)}"
    shared = ia.meet(ib)
    if not shared.empty:
        lits = (*context, *shared.literals(field))
        example = rs.check(rs.solve(lits, scope), scope, fire=(a, b))
        message = f"{ranges}: both apply to {label} {shared.show(unit)}"
        return _finding(rs, Kind.THRESHOLD_OVERLAP, (a, b), message, example)
    lower, upper = sorted((ia, ib), key=lambda i: (i.lo, not i.lo_closed))
    open_ranges = _uncovered(rs, lower.between(upper), field, context, scope, (a, b), deciding)
    if not open_ranges:
        return None
    gap = open_ranges[0]
    lits = (*context, *gap.literals(field))
    example = rs.check(rs.solve(lits, scope), scope, fire=(), silent=(a, b))
    shown = ", ".join(g.show(unit) for g in open_ranges)
    message = f"{ranges}: for the same kind of project no rule decides {label} in {shown}"
    return _finding(rs, Kind.THRESHOLD_GAP, (a, b), message, example)


def _uncovered(
    rs: RuleSet,
    gap: Interval,
    field: str,
    context: tuple[Lit, ...],
    scope: Scope,
    pair: tuple[RuleR, RuleR],
    deciding: Sequence[RuleR],
) -> list[Interval]:
    """The parts of `gap` that no other rule decides for every project of `context`."""
    left = [gap] if not gap.empty else []
    for r in deciding:
        if r in pair or not rs.scope(r).covers(scope):
            continue
        for e in rs.conjuncts[r.key]:
            # r decides the whole context when each of its other tests follows from it
            implied = all(
                not rs.solve((*context, lit.negated()), scope).sat
                for lit in without_field(e, field)
            )
            if implied:
                covered = interval_of(e, field) or Interval()
                left = [piece for part in left for piece in part.minus(covered)]
    return left


def _finding(
    rs: RuleSet,
    kind: Kind,
    pair: tuple[RuleR, RuleR],
    message: str,
    example: Counterexample | None,
) -> Finding:
    a, b = pair
    return Finding(
        kind,
        (a.key, b.key),
        (a.policy, b.policy),
        message,
        rs.citations(pair),
        example,
        (a.ast.name_span, b.ast.name_span),
    )
