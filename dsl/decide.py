"""From facts to an explained decision: choose the policies in force (or say that none
covers the project), fire rules with an evaluator (dsl/interpret.py, dsl/compile.py), combine
outcomes (dsl/combine.py), and explain every rule that did not fire. The compiled evaluator
(dsl/compiled.py) makes the same decisions itself, from parts it keeps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, is_dataclass, replace
from typing import Any, Protocol

from dsl import ast
from dsl.combine import Overridden as Overridden  # re-exported: the type of a Decision field
from dsl.combine import combine, unique
from dsl.counterfactual import Counterfactual, NextQuestion, Search, next_questions
from dsl.dates import date_or_today
from dsl.explain_text import describe
from dsl.fmt import format_atom
from dsl.interpret import Failure, Firing, first_failure, unknowns
from dsl.predicates import within
from dsl.resolved import PolicyR, PolicySet, RuleR
from dsl.schema import FactValue, Schema
from dsl.trace import FactUsed, RuleTrace, facts_used, trace_rule
from dsl.vocabulary import Outcome, Strength


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
    # What the cited document is: official, news_report, unofficial_copy or reprint (its
    # metadata's provenance, through the checker's ClauseSource); "" when unknown.
    provenance: str = ""

    @classmethod
    def of(cls, policy: PolicyR, cite: ast.Cite) -> Citation:
        """A clause that `policy` cites, named with its source document and what that is."""
        h = policy.header
        return cls(policy.id, h.source, h.doc_number, cite.clause, cite.quote, policy.provenance)


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
    # For calling systems and the reviewer (new fields last, with defaults): what must hold,
    # coded as in dsl.trace.ConditionTrace, and the failing condition in plain Chinese.
    op: str = ""
    expected: str = ""
    text: str = ""


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
    # How firm the outcome is, and why it is this outcome (new fields last, with defaults, so
    # that a positional construction keeps working).
    strength: Strength = Strength.MANDATORY  # of the outcome; mandatory where nothing qualifies it
    decided_by: str | None = None  # the rule key that decided the outcome
    overridden: tuple[Overridden, ...] = ()  # rules that fired but were prevailed over, and why
    reason: str = ""  # in Chinese: why this outcome (for not_covered / undetermined / none too)
    missing_facts: tuple[str, ...] = ()  # for undetermined: the facts that would decide it
    exception_routes: tuple[str, ...] = ()  # for a presumptive outcome: who may grant exceptions
    qualifiers: tuple[str, ...] = ()  # the text's words that qualify the outcome (原则上 …)
    # What the decision rests on and what would change it (dsl.trace, dsl.counterfactual).
    facts: tuple[FactUsed, ...] = ()  # every fact, given or supplied by a schema default
    trace: tuple[RuleTrace, ...] = ()  # with explain: each fired rule's conditions
    counterfactuals: tuple[Counterfactual, ...] = ()  # with explain: the smallest changes
    counterfactuals_complete: bool = True  # False when the search ran out of its budget
    next_questions: tuple[NextQuestion, ...] = ()  # undetermined: the missing facts, best first

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
    return within(region, policy.header.region) and in_period(policy, date)


def in_period(policy: PolicyR, date: str) -> bool:
    h = policy.header
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
    """The decision for `facts`. An evaluator that makes whole decisions itself (`decision`,
    dsl/compiled.py: the same Decision from cached parts) is asked for it; the differential
    test holds it to what `assemble` gives."""
    own = getattr(evaluator, "decision", None)
    if own is not None:
        made: Decision = own(policies, facts, date, explain)
        return made
    return assemble(policies, evaluator, facts, date, explain)


def assemble(
    policies: PolicySet,
    evaluator: Evaluator,
    facts: Mapping[str, FactValue],
    date: str | None = None,
    explain: bool = True,
) -> Decision:
    """The decision made step by step from the evaluator's firing: the reference."""
    day = evaluation_date(facts, date)
    region = str(facts.get("region", ""))
    covering, active = policies_in_force(policies, region, day)
    if not active:
        uncovered = not_covered(policies, covering, region, day)
        return replace(uncovered, facts=facts_used(facts, policies.schema))
    firing = evaluator.fire(facts, [p.id for p in active])
    rules = [r for p in active for r in p.rules]
    fired = [r for r in rules if r.key in firing.definite]
    maybe = [r for r in rules if r.key in firing.possible]
    by_id = {p.id: p for p in active}

    combined = combine(fired, maybe, by_id, facts, policies.schema)
    used = fired + maybe
    citations = [Citation.of(by_id[r.policy], c) for r in used for c in r.ast.cites]
    citations += [Citation.of(by_id[r.policy], c) for r, c in combined.declarations]
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
            said = None if failure is None else why_not_of(r, failure, policies.schema)
            if said is not None:
                why_not.append(said)
    decision = Decision(
        outcome=combined.outcome,
        steps=path_of(combined.path, by_id),
        obligations=unique(o for r in combined.kept for o in r.ast.obligations),
        benefits=unique(b for r in combined.kept for b in r.ast.benefits),
        notes=combined.notes,
        rules=tuple(_fired(r) for r in fired),
        undetermined=tuple(_undetermined(r, facts) for r in maybe),
        why_not=tuple(why_not),
        citations=unique(citations),
        parameters=unique(params),
        policies=tuple(p.id for p in active),
        revision=policies.revision,
        date=day,
        strength=combined.strength,
        decided_by=combined.decided_by,
        overridden=combined.overridden,
        reason=combined.reason,
        missing_facts=combined.missing_facts,
        exception_routes=combined.exception_routes,
        qualifiers=combined.qualifiers,
        facts=facts_used(facts, policies.schema),
    )
    questions = next_questions(decision, facts, active, policies.schema)
    if questions:
        decision = replace(decision, next_questions=questions)
    if not explain:
        return decision
    # Each counterfactual is this very decision, made again on the changed facts.
    search = Search(
        decision,
        facts,
        active,
        policies.policies,
        policies.schema,
        lambda changed: decide(policies, evaluator, changed, day, explain=False),
    )
    found, complete = search.run()
    return replace(
        decision,
        trace=tuple(trace_rule(r, facts, policies.schema) for r in fired),
        counterfactuals=found,
        counterfactuals_complete=complete,
    )


def why_not_of(rule: RuleR, failure: Failure, schema: Schema) -> WhyNot | None:
    """Why `rule` did not fire: its first failing test as written and in plain words against
    the actual value; None for a test with no source to quote."""
    if failure.test.source is None:
        return None
    text = format_atom(failure.test.source)
    condition = f"非 {text}" if failure.negated else text
    # describe reads the test's own field only: the failure holds all that this depends on
    # (dsl/compiled.py keeps why-not by that value).
    actual = {} if failure.actual is None else {failure.test.field: failure.actual}
    said = describe(failure.test, not failure.negated, actual, schema)
    return WhyNot(
        rule.key,
        rule.ast.title,
        condition,
        failure.test.field,
        failure.actual,
        said.op,
        said.expected,
        said.text,
    )


def policies_in_force(
    policies: PolicySet, region: str, day: str
) -> tuple[list[PolicyR], list[PolicyR]]:
    """The policies whose region covers `region`, and those of them in force on `day`."""
    covering = [p for p in policies.policies if within(region, p.header.region)]
    return covering, [p for p in covering if in_period(p, day)]


def not_covered(policies: PolicySet, covering: list[PolicyR], region: str, day: str) -> Decision:
    """No policy of the set covers the region, or none that does is in force on the date:
    never a silent `none`. The reason names the covering policies' periods, or the regions
    below a region too wide to place the project in."""
    if covering:
        periods = "；".join(
            f"{p.id} 自{p.header.effective_from}施行"
            + (f"，至{p.header.effective_until}止" if p.header.effective_until else "")
            for p in covering
        )
        reason = f"评估日期 {day} 没有覆盖该地区的政策施行：{periods}"
    else:
        reason = f"本系统未覆盖该地区（{region or '未给出地区'}）"
        below = unique(
            p.header.region for p in policies.policies if within(p.header.region, region)
        )
        if below:
            reason += f"；本系统只覆盖其下的 {'、'.join(below)}，请给出更具体的地区"
    return Decision(
        outcome=Outcome.NOT_COVERED,
        steps=(),
        obligations=(),
        benefits=(),
        notes=(),
        rules=(),
        undetermined=(),
        why_not=(),
        citations=(),
        parameters=(),
        policies=(),
        revision=policies.revision,
        date=day,
        reason=reason,
    )


def _steps(r: RuleR) -> tuple[Step, ...]:
    return tuple(Step(s.authority, s.action) for s in r.ast.steps)


def _fired(r: RuleR) -> FiredRule:
    return FiredRule(r.key, r.policy, r.ast.title, r.ast.outcome, _steps(r))


def _undetermined(r: RuleR, facts: Mapping[str, FactValue]) -> Undetermined:
    missing, params = unknowns(r.cond, facts)
    return Undetermined(r.key, r.ast.title, r.ast.outcome, _steps(r), tuple(missing), tuple(params))


def path_of(rules: Iterable[RuleR], policies: Mapping[str, PolicyR]) -> tuple[PathStep, ...]:
    """The steps of `rules` in order, each once, with the rules and clauses behind it."""
    basis: dict[Step, list[Basis]] = {}
    for r in rules:
        source = policies[r.policy].header.source
        for step in _steps(r):
            basis.setdefault(step, [])
            basis[step] += [Basis(r.key, source, c.clause) for c in r.ast.cites]
    return tuple(
        PathStep(step.authority, step.action, unique(found)) for step, found in basis.items()
    )
