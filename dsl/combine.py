"""How the rules that apply to a project combine into one outcome, in this order:

1. Declared precedence: a rule that fired displaces every rule its `例外` / `优先于` names.
   Special over general, later over earlier, higher over lower hold only where declared.
2. Strength: a mandatory or by-law prohibition prevails over every approval or filing path,
   which is reported as overridden. A presumptive prohibition (原则上) is the outcome too, but
   beside the path, which is kept for the exception: it never silences it.
3. Otherwise the highest-ranking outcome (approve over file); every rule that fired adds its
   steps, the outcome's first.
4. With no rule's outcome certain, the undetermined candidates settle it when, whatever the
   missing facts and open parameters turn out to be, one of them applies and all give the same
   outcome; otherwise the verdict is `undetermined` if a candidate remains, `none` if none does.

The evaluators only say which rules fire; everything here is shared, so they cannot differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dsl import ast
from dsl.interpret import always_one_applies, unknowns
from dsl.priority import priorities, target_keys
from dsl.resolved import PolicyR, RuleR
from dsl.schema import FactValue, Schema
from dsl.vocabulary import Outcome, Strength

RANK = {Outcome.PROHIBIT: 3, Outcome.APPROVE: 2, Outcome.FILE: 1}
HARDNESS = {
    Strength.MANDATORY: 3,
    Strength.BY_LAW: 2,
    Strength.PRESUMPTIVE: 1,
    Strength.DISCRETIONARY: 0,
}
_OUTCOME_WORD = {Outcome.PROHIBIT: "禁止", Outcome.APPROVE: "审批", Outcome.FILE: "备案"}
_STRENGTH_WORD = {
    Strength.MANDATORY: "",
    Strength.BY_LAW: "依法",
    Strength.PRESUMPTIVE: "原则上",
    Strength.DISCRETIONARY: "",
}


@dataclass(frozen=True)
class Overridden:
    """A rule that fired but does not decide: `by` prevails over it, for `reason` (Chinese)."""

    rule: str
    by: str
    reason: str


@dataclass(frozen=True)
class Combined:
    outcome: Outcome
    strength: Strength
    decided_by: str | None
    path: tuple[RuleR, ...]  # the rules whose steps make the path, in path order
    kept: tuple[RuleR, ...]  # fired rules no declared precedence displaced
    overridden: tuple[Overridden, ...]
    declarations: tuple[tuple[RuleR, ast.Cite], ...]  # the precedences applied, with clauses
    notes: tuple[str, ...]
    reason: str
    missing_facts: tuple[str, ...] = ()
    exception_routes: tuple[str, ...] = ()
    qualifiers: tuple[str, ...] = ()


def combine(
    fired: list[RuleR],
    maybe: list[RuleR],
    policies: Mapping[str, PolicyR],
    facts: Mapping[str, FactValue],
    schema: Schema,
) -> Combined:
    """`policies`: the policies in force, by id; `fired` and `maybe` are their rules that
    surely and possibly apply; the schema gives the facts' Chinese labels for the reason."""
    overridden, displaced, declarations = _declared(fired, maybe, policies)
    gone = {o.rule for o in overridden}
    kept = [r for r in fired if r.key not in gone]
    notes = [f"{r.key}: {n}" for r in kept for n in r.ast.notes]
    for pid in unique(r.policy for r in fired + maybe):
        if policies[pid].header.trial:
            notes.append(f"{pid}: 该文件为试行 (trial)")
    deciding = [r for r in kept if r.ast.outcome]
    if not deciding:
        candidates = [r for r in maybe if r.ast.outcome and r.key not in displaced]
        return _open(kept, candidates, facts, schema, overridden, declarations, notes)
    prohibitions = [r for r in deciding if r.ast.outcome == Outcome.PROHIBIT]
    hard = [r for r in prohibitions if r.ast.strength != Strength.PRESUMPTIVE]
    if hard:
        outcome, decider = Outcome.PROHIBIT, _hardest(hard)
        why = f"{_STRENGTH_WORD[decider.ast.strength] or '强制性'}禁止优先于审批或备案路径"
        paths = [r for r in deciding if r.ast.outcome != Outcome.PROHIBIT]
        overridden += [Overridden(r.key, decider.key, why) for r in paths]
        path = prohibitions
    else:
        outcome = max((r.ast.outcome for r in deciding if r.ast.outcome), key=RANK.__getitem__)
        decider = _hardest([r for r in deciding if r.ast.outcome == outcome])
        # Every fired rule adds its path, the strongest outcome's first (a provincial park's
        # plan is approved, then also filed); beside a presumptive prohibition the path stays.
        path = sorted(kept, key=lambda r: -RANK[r.ast.outcome] if r.ast.outcome else 0)
        if outcome == Outcome.PROHIBIT and len(prohibitions) < len(deciding):
            notes.append(
                "原则上禁止，可例外：例外时的审批或备案路径照列于 steps (presumptive "
                "prohibition: the path is kept for the exception)"
            )
    same = [r for r in path if r.ast.outcome == outcome and r.ast.steps]
    if len(unique(tuple(r.ast.steps) for r in same)) > 1:
        names = "、".join(r.key for r in same)
        notes.append(f"多条规则适用且路径不同 (several rules apply with different paths): {names}")
    strength = decider.ast.strength
    qualified = [r for r in deciding if r.ast.outcome == outcome and r.ast.strength == strength]
    routes = unique(e for r in qualified for e in r.ast.exception_routes)
    return Combined(
        outcome=outcome,
        strength=strength,
        decided_by=decider.key,
        path=tuple(path),
        kept=tuple(kept),
        overridden=tuple(overridden),
        declarations=declarations,
        notes=tuple(notes),
        reason=_decided_reason(outcome, strength, decider, routes, overridden),
        exception_routes=routes,
        qualifiers=unique(q for r in qualified for q in r.qualifiers),
    )


def _declared(
    fired: list[RuleR], maybe: list[RuleR], policies: Mapping[str, PolicyR]
) -> tuple[list[Overridden], set[str], tuple[tuple[RuleR, ast.Cite], ...]]:
    """The fired rules a fired rule's declared precedence displaces, the possible rules it
    would displace (they cannot change the outcome, so they are no candidates for it), and
    each declaration applied."""
    overridden: list[Overridden] = []
    displaced: set[str] = set()
    declarations: list[tuple[RuleR, ast.Cite]] = []
    declaring = [r for r in fired if r.ast.exception_to or r.ast.prevails_over]
    if not declaring:  # the common case: nothing to resolve, so no name table to build
        return overridden, displaced, ()
    names = {pid: [r.ast.name for r in p.rules] for pid, p in policies.items()}
    fired_keys, maybe_keys = {r.key for r in fired}, {r.key for r in maybe}
    for rule in declaring:
        for kind, p in priorities(rule.ast):
            keys = [k for k in target_keys(p.target, rule.policy, names) if k != rule.key]
            hit = [k for k in keys if k in fired_keys]
            displaced |= {k for k in keys if k in maybe_keys}
            if hit:
                declarations.append((rule, p.cite))
            where = f"依据 {rule.policy}:{p.cite.clause}"
            why = f"{rule.key} 是其例外" if kind == "exception_to" else f"{rule.key} 优先于它"
            overridden += [Overridden(k, rule.key, f"{why}（{where}）") for k in hit]
    return overridden, displaced, tuple(declarations)


def _hardest(rules: list[RuleR]) -> RuleR:
    """The first of the rules with the hardest strength."""
    return max(rules, key=lambda r: HARDNESS[r.ast.strength])


def _decided_reason(
    outcome: Outcome,
    strength: Strength,
    decider: RuleR,
    routes: tuple[str, ...],
    overridden: list[Overridden],
) -> str:
    reason = f"{_STRENGTH_WORD[strength]}{_OUTCOME_WORD[outcome]}：由规则 {decider.key} 决定"
    if strength == Strength.PRESUMPTIVE:
        who = f"例外途径：{'、'.join(routes)}" if routes else "文件未写明由谁决定例外"
        reason += f"；可例外，{who}"
    elif strength == Strength.BY_LAW:
        reason += "；该结论以其他法律法规为依据"
    if overridden:
        reason += f"；优先于 {'、'.join(unique(o.rule for o in overridden))}"
    return reason


def _open(
    kept: list[RuleR],
    candidates: list[RuleR],
    facts: Mapping[str, FactValue],
    schema: Schema,
    overridden: list[Overridden],
    declarations: tuple[tuple[RuleR, ast.Cite], ...],
    notes: list[str],
) -> Combined:
    """No rule with an outcome surely applies. Rules without an outcome (duties, rewards)
    still add their steps; the outcome comes from the undetermined candidates, if they settle
    it."""
    questions = [unknowns(r.cond, facts) for r in candidates]
    missing = unique(m for ms, _ in questions for m in ms)
    params = unique(p for _, ps in questions for p in ps)
    outcomes = {r.ast.outcome for r in candidates if r.ast.outcome}
    strength, reason = Strength.MANDATORY, "适用的政策中没有规则对该项目给出结论，所需事实均已提供"
    outcome, waiting = Outcome.NONE, ()
    if candidates:
        named = [f"{_label(schema, m)}({m})" for m in missing]
        depends = "；".join(
            part
            for part in (
                f"未提供的事实 {'、'.join(named)}" if missing else "",
                f"文件未规定的参数 {'、'.join(params)}" if params else "",
            )
            if part
        )
        outcome, waiting = Outcome.UNDETERMINED, missing
        reason = f"没有规则能确定结论：结论取决于{depends}"
    if len(outcomes) == 1 and always_one_applies([r.cond for r in candidates], facts):
        if params:
            notes.append(
                f"路径取决于文件未规定的参数 {'、'.join(params)} (the path depends on a parameter "
                "the text leaves open); see `undetermined` for each possible path"
            )
        if missing:
            notes.append(
                f"路径取决于未提供的事实 {'、'.join(missing)} (the path depends on facts not "
                "given); see `undetermined` for each possible path"
            )
        outcome, waiting = outcomes.pop(), ()
        reason = f"{_OUTCOME_WORD[outcome]}：候选规则中必有一条适用，路径取决于{depends}"
        strength = _hardest(candidates).ast.strength
    return Combined(
        outcome=outcome,
        strength=strength,
        decided_by=None,
        path=tuple(kept),
        kept=tuple(kept),
        overridden=tuple(overridden),
        declarations=declarations,
        notes=tuple(notes),
        reason=reason,
        missing_facts=waiting,
    )


def _label(schema: Schema, name: str) -> str:
    f = schema.field(name)
    return f.label if f else name


def unique(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(items))
