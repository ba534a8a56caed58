"""From facts to an explained decision: choose the policies in force, fire rules with either
evaluator, combine outcomes, and explain every rule that did not fire."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, is_dataclass
from typing import Any, Protocol

from dsl import ast
from dsl.dates import date_or_today
from dsl.fmt import format_atom
from dsl.interpret import Firing, always_one_applies, first_failure, unknowns
from dsl.predicates import within
from dsl.resolved import PolicyR, PolicySet, RuleR
from dsl.schema import FactValue
from dsl.vocabulary import Outcome

# A prohibition beats an approval, which beats a filing.
STRENGTH = {Outcome.PROHIBIT: 3, Outcome.APPROVE: 2, Outcome.FILE: 1}


class Evaluator(Protocol):
    def fire(self, facts: Mapping[str, FactValue], policy_ids: Iterable[str]) -> Firing: ...


@dataclass(frozen=True)
class Step:
    authority: str
    action: str


@dataclass(frozen=True)
class Basis:
    """A rule that puts a step on the path, and one clause that rule cites."""

    rule: str
    document: str
    clause: str


@dataclass(frozen=True)
class PathStep:
    """A step of the decision's approval path and what it rests on."""

    authority: str
    action: str
    basis: tuple[Basis, ...]


@dataclass(frozen=True)
class Citation:
    policy: str
    document: str
    doc_number: str
    clause: str
    quote: str

    @classmethod
    def of(cls, policy: PolicyR, cite: ast.Cite) -> Citation:
        """A clause that `policy` cites, named with its source document."""
        h = policy.header
        return cls(policy.id, h.source, h.doc_number, cite.clause, cite.quote)


@dataclass(frozen=True)
class FiredRule:
    id: str
    policy: str
    title: str
    outcome: Outcome | None
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class WhyNot:
    rule: str
    title: str
    condition: str  # the failing test as the drafter wrote it
    field: str
    actual: FactValue | None


@dataclass(frozen=True)
class Undetermined:
    rule: str
    title: str
    outcome: Outcome | None
    steps: tuple[Step, ...]
    missing_facts: tuple[str, ...]
    unspecified_parameters: tuple[str, ...]


@dataclass(frozen=True)
class Parameter:
    policy: str
    name: str
    value: str
    unspecified: bool
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    steps: tuple[PathStep, ...]
    obligations: tuple[str, ...]
    benefits: tuple[str, ...]
    notes: tuple[str, ...]
    rules: tuple[FiredRule, ...]
    undetermined: tuple[Undetermined, ...]
    why_not: tuple[WhyNot, ...]
    citations: tuple[Citation, ...]
    parameters: tuple[Parameter, ...]
    policies: tuple[str, ...]  # the policies in force for this project and date
    revision: str
    date: str

    def to_json(self) -> dict[str, Any]:
        plain: dict[str, Any] = _plain(self)
        return plain


def _plain(value: Any) -> Any:
    """JSON-ready lists and dicts. dataclasses.asdict deep-copies every leaf and took longer
    than the evaluation itself; these frozen dataclasses hold only tuples, strings, numbers
    and other such dataclasses, so a shallow walk in field order is enough."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if is_dataclass(value):
        return {k: _plain(v) for k, v in vars(value).items()}
    return value


def in_force(policy: PolicyR, region: str, date: str) -> bool:
    h = policy.header
    if not within(region, h.region):
        return False
    if h.effective_from and date < h.effective_from:
        return False
    return not (h.effective_until and date > h.effective_until)


def evaluation_date(facts: Mapping[str, FactValue], date: str | None) -> str:
    """An explicit date wins, then the project's own `date`, then today. Raises BadDate."""
    given = date or facts.get("date")
    return date_or_today(str(given) if given else None)


def decide(
    policies: PolicySet,
    evaluator: Evaluator,
    facts: Mapping[str, FactValue],
    date: str | None = None,
    explain: bool = True,
) -> Decision:
    day = evaluation_date(facts, date)
    region = str(facts.get("region", ""))
    active = [p for p in policies.policies if in_force(p, region, day)]
    firing = evaluator.fire(facts, [p.id for p in active])
    rules = [r for p in active for r in p.rules]
    fired = [r for r in rules if r.key in firing.definite]
    maybe = [r for r in rules if r.key in firing.possible]
    by_id = {p.id: p for p in active}

    outcome, path_rules, notes = _combine(fired, maybe, by_id, facts)
    used = fired + maybe
    citations = [Citation.of(by_id[r.policy], c) for r in used for c in r.ast.cites]
    params = []
    for r in used:
        for name in r.params:
            pv = by_id[r.policy].params[name]
            params.append(Parameter(r.policy, name, pv.value, pv.unspecified, pv.notes))
            citations += [Citation.of(by_id[r.policy], c) for c in pv.cites]
    why_not = []
    if explain:
        for r in rules:
            if r.key in firing.definite or r.key in firing.possible:
                continue
            failure = first_failure(r.cond, facts)
            if failure is not None and failure.test.source is not None:
                text = format_atom(failure.test.source)
                condition = f"非 {text}" if failure.negated else text
                why_not.append(
                    WhyNot(r.key, r.ast.title, condition, failure.test.field, failure.actual)
                )
    return Decision(
        outcome=outcome,
        steps=_path(path_rules, by_id),
        obligations=_unique(o for r in fired for o in r.ast.obligations),
        benefits=_unique(b for r in fired for b in r.ast.benefits),
        notes=tuple(notes),
        rules=tuple(_fired(r) for r in fired),
        undetermined=tuple(_undetermined(r, facts) for r in maybe),
        why_not=tuple(why_not),
        citations=_unique(citations),
        parameters=_unique(params),
        policies=tuple(p.id for p in active),
        revision=policies.revision,
        date=day,
    )


def _steps(r: RuleR) -> tuple[Step, ...]:
    return tuple(Step(s.authority, s.action) for s in r.ast.steps)


def _fired(r: RuleR) -> FiredRule:
    return FiredRule(r.key, r.policy, r.ast.title, r.ast.outcome, _steps(r))


def _undetermined(r: RuleR, facts: Mapping[str, FactValue]) -> Undetermined:
    missing, params = unknowns(r.cond, facts)
    return Undetermined(r.key, r.ast.title, r.ast.outcome, _steps(r), tuple(missing), tuple(params))


def _combine(
    fired: list[RuleR],
    maybe: list[RuleR],
    policies: Mapping[str, PolicyR],
    facts: Mapping[str, FactValue],
) -> tuple[Outcome, list[RuleR], list[str]]:
    """The outcome, the rules whose steps make the path (in path order) and the notes. Any
    prohibition wins; otherwise the strongest outcome with the paths of the rules that give
    it, in policy and rule order. Qualified wording and trial status stay visible."""
    notes: list[str] = []
    for r in fired:
        notes += [f"{r.key}: {n}" for n in r.ast.notes]
    for pid in _unique(r.policy for r in fired + maybe):
        if policies[pid].header.trial:
            notes.append(f"{pid}: 该文件为试行 (trial)")
    deciding = [r.ast.outcome for r in fired if r.ast.outcome]
    if not deciding:
        # Rules without an outcome (duties, rewards) still add their steps; the outcome then
        # comes from the undetermined candidates, if they settle it.
        outcome, notes = _undetermined_outcome(maybe, notes, facts)
        return outcome, fired, notes
    outcome = max(deciding, key=STRENGTH.__getitem__)
    # A prohibition stands alone; otherwise every fired rule adds its path, the strongest
    # outcome's first (a provincial park's plan is approved, then also filed).
    contributing = [
        r for r in fired if outcome != Outcome.PROHIBIT or r.ast.outcome == Outcome.PROHIBIT
    ]
    contributing.sort(key=lambda r: -STRENGTH[r.ast.outcome] if r.ast.outcome else 0)
    same = [r for r in contributing if r.ast.outcome == outcome and r.ast.steps]
    if len(_unique(_steps(r) for r in same)) > 1:
        names = "、".join(r.key for r in same)
        notes.append(f"多条规则适用且路径不同 (several rules apply with different paths): {names}")
    return outcome, contributing, notes


def _path(rules: list[RuleR], policies: Mapping[str, PolicyR]) -> tuple[PathStep, ...]:
    """The steps of `rules` in order, each once, with the rules and clauses behind it."""
    basis: dict[Step, list[Basis]] = {}
    for r in rules:
        source = policies[r.policy].header.source
        for step in _steps(r):
            basis.setdefault(step, [])
            basis[step] += [Basis(r.key, source, c.clause) for c in r.ast.cites]
    return tuple(
        PathStep(step.authority, step.action, _unique(found)) for step, found in basis.items()
    )


def _undetermined_outcome(
    maybe: list[RuleR], notes: list[str], facts: Mapping[str, FactValue]
) -> tuple[Outcome, list[str]]:
    """No rule with an outcome surely applies. When the undetermined candidates all give the
    same outcome and, whatever the missing facts and open parameters turn out to be, one of
    them applies, that outcome stands and each candidate path is reported; otherwise the
    outcome is `none`."""
    candidates = [r for r in maybe if r.ast.outcome]
    outcomes = {r.ast.outcome for r in candidates if r.ast.outcome}
    if len(outcomes) != 1 or not always_one_applies([r.cond for r in candidates], facts):
        return Outcome.NONE, notes
    open_questions = [unknowns(r.cond, facts) for r in candidates]
    missing = _unique(m for ms, _ in open_questions for m in ms)
    params = _unique(p for _, ps in open_questions for p in ps)
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
    return outcomes.pop(), notes


def _unique(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(items))
