"""What would change the outcome: the smallest changes of one fact, then of two, that change
a decision's outcome, strength or path, each verified by deciding the changed project again
with the same evaluator; and, for an undetermined decision, which missing fact to ask first.

Candidate values come only from what the rules of the policies in force test:
- a number: the representable values on either side of each bound. Facts are kept to
  DECIMALS places of their unit (dsl.schema), so the step is 0.0001 of the field's unit
  (1元 for 万元): at 以上 1000万元 the change is exactly 1000, at 超过 1000万元 it is 1000.0001;
- an enum: every other value; a bool: the other value;
- text, industry and region: each phrase, class code or region a rule names, where that
  turns its test from false or unknown to true (never a made-up text that names none).
"Smallest": fewer changed facts first; a pair is looked for only where one of its changes
alone changes nothing (so pairs never just add up two single counterfactuals), and is
dropped when one change gives the same result. For a number or a phrase, one change per
result: the value nearest the current one (for a missing number, the smallest); every enum
and bool value that changes the result is reported.

The search examines at most MAX_EVALUATIONS changed projects (class Search: each is
predicted from the rules' states, and only one to be reported is decided again, of which
the counterfactual reads its `Verdict`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache, partial
from typing import TYPE_CHECKING, TypeVar

from dsl import ast
from dsl.combine import combine, unique
from dsl.explain_text import (
    SYMBOLS,
    bool_text,
    industry_text,
    label,
    number_text,
    outcome_text,
)
from dsl.interpret import atomic_tests, evaluate
from dsl.interpret import test as evaluate_test
from dsl.resolved import PolicyR, RuleR, Test
from dsl.schema import DECIMALS, MAX_NUMBER, FactValue, Schema
from dsl.vocabulary import Outcome, Strength

if TYPE_CHECKING:
    from dsl.decide import Decision, PathStep

# Changed projects examined per explained decision, singles and pairs. The seeds' decisions
# need at most 300: about 5 ms on average, 25 ms at most, with the interpreter on this 2-core
# machine (dsl/compiled.py keeps each search's result for the projects that would repeat it);
# a larger policy set is cut off here, and says so (counterfactuals_complete).
MAX_EVALUATIONS = 500
SCALE = 10**DECIMALS
REGION = "region"  # the field that chooses the policies in force (dsl.decide)

Result = tuple[Outcome, Strength, tuple[tuple[str, str], ...]]
Rerun = Callable[[Mapping[str, FactValue]], "Decision"]
StateOf = Callable[[RuleR, Mapping[str, FactValue]], object]
Change = TypeVar("Change")  # a Candidate, or what holds one (dsl.cell_search.Choice)
Make = Callable[[tuple[Change, ...], "Verdict", bool, tuple[str, ...]], "Counterfactual"]


@dataclass(frozen=True)
class FactChange:
    field: str
    value: FactValue
    text: str  # in Chinese: 投资额 ≥ 1000万元, 用地方式为新增建设用地, 符合规划


@dataclass(frozen=True)
class Counterfactual:
    """Changes that give another outcome, strength or path; `rules` are the rules the result
    rests on that the decision did not, `clauses` ("document clause") what they cite."""

    changes: tuple[FactChange, ...]
    outcome: Outcome
    strength: Strength
    steps: tuple[str, ...]
    rules: tuple[str, ...]
    clauses: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class NextQuestion:
    """A missing fact and how many undetermined rules with an outcome it alone settles."""

    field: str
    label: str
    settles: int


@dataclass(frozen=True)
class Candidate:
    field: str
    value: FactValue
    text: str
    rank: tuple[float, ...]  # within the field: smaller is nearer the current value
    one_per_result: bool  # a number or a phrase: only the nearest change per result counts


@dataclass(frozen=True, eq=False)  # hashed by identity: a key of dsl/cell_search.py's texts
class Verdict:
    """All a counterfactual takes of the decision its changes give: the result, the facts
    it waits on and the rules it rests on (`rests_on`). dsl/compiled.py makes one without
    the rest of a decision (citations, parameters, next questions)."""

    result: Result
    missing_facts: tuple[str, ...]
    rules: tuple[str, ...]


def result_of(d: Decision) -> Result:
    return d.outcome, d.strength, tuple((s.authority, s.action) for s in d.steps)


def verdict_of(d: Decision) -> Verdict:
    return Verdict(result_of(d), d.missing_facts, _deciding(d))


def candidates(
    rules: Sequence[RuleR], facts: Mapping[str, FactValue], schema: Schema
) -> list[Candidate]:
    """Every candidate change, in the schema's field order, nearest first within a field."""
    tests = tests_by_field(rules)
    out: list[Candidate] = []
    for f in schema.fields:
        if f.name in tests:
            out += field_candidates(f, tests[f.name], facts.get(f.name), schema)
    return out


def tests_by_field(rules: Sequence[RuleR]) -> dict[str, list[Test]]:
    """The atomic tests of `rules` by the field they test, in rule and reading order."""
    tests: dict[str, list[Test]] = {}
    for r in rules:
        for t in atomic_tests(r.cond):
            tests.setdefault(t.field, []).append(t)
    return tests


def field_candidates(
    f: ast.FieldDef, tests: list[Test], current: FactValue | None, schema: Schema
) -> list[Candidate]:
    """The candidate changes of one field that `tests` test, from its `current` value: they
    depend on nothing else, so dsl/compiled.py keeps them by value."""
    name = f.label
    if f.type.kind == "number":
        x = None if current is None or isinstance(current, str) else float(current)
        return _numeric(f.name, name, f.type.unit, tests, x)
    if f.type.kind == "enum":
        return [
            Candidate(f.name, v.name, f"{name}为{v.label}", (i,), False)
            for i, v in enumerate(f.type.values)
            if v.name != current
        ]
    if f.type.kind == "bool":
        return [
            Candidate(f.name, b, bool_text(name, b), (0,), False)
            for b in (True, False)
            if b != current
        ]
    return _named(f.name, name, tests, current, schema)


def _numeric(
    field: str, name: str, unit: str, tests: list[Test], x: float | None
) -> list[Candidate]:
    found: dict[float, Candidate] = {}
    for t in tests:
        if t.unspecified:
            continue
        for value, op in _sides(t.value, t.op):
            if value == x or not 0 <= value < MAX_NUMBER:
                continue
            rank = (abs(value - x), value) if x is not None else (value,)
            c = Candidate(
                field, value, f"{name} {SYMBOLS[op]} {number_text(t.value)}{unit}", rank, True
            )
            # One value may sit at two bounds (≥ 1000 and > 1000): word it the way it moves.
            upward = x is None or value > x
            if value not in found or (op in (">=", ">")) == upward:
                found[value] = c
    return sorted(found.values(), key=lambda c: c.rank)


@cache  # exact arithmetic costs; a policy set has few bounds
def _sides(bound: float, op: str) -> tuple[tuple[float, str], tuple[float, str]]:
    """The representable values on either side of the boundary a test draws at `bound`,
    each with the comparison against `bound` that holds for it. Exact, so a bound such as
    1亩 in 平方米 (666.66…) gets the nearest representable values, not a rounded bound."""
    scaled = Fraction(bound) * SCALE
    if op in (">=", "<"):  # the boundary lies between < bound and >= bound
        lower, upper = (math.ceil(scaled) - 1, "<"), (math.ceil(scaled), ">=")
    else:  # between <= bound and > bound
        lower, upper = (math.floor(scaled), "<="), (math.floor(scaled) + 1, ">")
    return (
        (float(Fraction(lower[0], SCALE)), lower[1]),
        (float(Fraction(upper[0], SCALE)), upper[1]),
    )


def _named(
    field: str, name: str, tests: list[Test], current: FactValue | None, schema: Schema
) -> list[Candidate]:
    """Phrases, class codes and regions the rules name, each where it makes its test hold
    and the current value does not."""
    out: dict[str, Candidate] = {}
    now: dict[str, FactValue] = {} if current is None else {field: current}
    for t in tests:
        if t.kind == "within":
            options = [(t.values[0], f"{name}为 {t.values[0]}")]
        elif t.kind == "industry" and isinstance(t.source, ast.InIndustry):
            options = [(c, f"{name}属于 {industry_text(schema, (c,))}") for c in t.source.codes]
        elif t.kind == "contains":
            options = [(p, f"{name}含“{p}”") for p in t.values]
        else:
            continue
        for value, text in options:
            holds = evaluate_test(t, {field: value}) and not evaluate_test(t, now)
            if value not in out and holds:
                out[value] = Candidate(field, value, text, (len(out),), True)
    return list(out.values())


def _state(rule: RuleR, facts: Mapping[str, FactValue]) -> object:
    """All that combining takes from a rule: whether it holds, and for an unknown condition
    the value of each test (dsl.interpret.always_one_applies reads them)."""
    status = evaluate(rule.cond, facts)
    if status is not None:
        return status
    return tuple(evaluate_test(t, facts) for t in atomic_tests(rule.cond))


class Search:
    """One decision's counterfactuals. Each changed project examined (at most
    MAX_EVALUATIONS) is first predicted: the rules testing a changed field are evaluated
    again and combined with the others' states as they were (dsl.combine, what `decide`
    runs). A change that would be reported is then verified: `rerun` decides the changed
    project again with the same policy set, evaluator and date, and the counterfactual is
    that decision's.

    An evaluator may bring its own `state` (dsl/compiled.py: the rule's generated function,
    the same values as `_state`), and a dict `predicted` that keeps each prediction by the
    states of all the rules, shared by the searches over the same policies: a prediction
    depends on nothing else (dsl.combine reads the facts only through the tests' values)."""

    def __init__(
        self,
        base: Decision,
        facts: Mapping[str, FactValue],
        policies: Sequence[PolicyR],
        every_policy: Sequence[PolicyR],
        schema: Schema,
        rerun: Rerun,
        state: StateOf | None = None,
        predicted: dict[tuple[object, ...], Result] | None = None,
    ) -> None:
        self.base, self.facts, self.schema, self.rerun = base, facts, schema, rerun
        self.state = state or _state
        self.predicted = predicted
        self.by_id = {p.id: p for p in policies}
        self.rules = [r for p in policies for r in p.rules]
        self.testing: dict[str, list[RuleR]] = {}
        for r in self.rules:
            for name in dict.fromkeys(t.field for t in atomic_tests(r.cond)):
                self.testing.setdefault(name, []).append(r)
        self.cites = cites_of(every_policy)
        self.base_states = {r.key: self.state(r, facts) for r in self.rules}
        self._both: dict[tuple[str, str], list[RuleR]] = {}  # the rules testing two fields
        self.left = MAX_EVALUATIONS
        self.complete = True

    def run(
        self, singles: list[Candidate] | None = None
    ) -> tuple[tuple[Counterfactual, ...], bool]:
        """The counterfactuals, and whether the search was complete within its budget.
        `singles`: the candidate changes, when the caller has them already."""
        base = result_of(self.base)
        if singles is None:
            singles = candidates(self.rules, self.facts, self.schema)
        outcomes: dict[Candidate, Result] = {}
        states: dict[Candidate, dict[str, object]] = {}
        inert: set[Candidate] = set()
        found: list[tuple[tuple[Candidate, ...], Verdict]] = []
        reported: set[tuple[tuple[str, ...], Result]] = set()

        def keep(changes: tuple[Candidate, ...], changed: Mapping[str, FactValue]) -> None:
            v = verdict_of(self.rerun(changed))
            if v.result != base:
                reported.add((tuple(sorted(c.field for c in changes)), v.result))
                found.append((changes, v))

        for c in singles:
            if not self._spend():
                break
            changed = {**self.facts, c.field: c.value}
            states[c] = self._states(changed, (c.field,))
            if self._same(states[c], {}):
                inert.add(c)
            outcomes[c] = self._predict(changed, states[c], base)
            seen = ((c.field,), outcomes[c]) in reported
            if outcomes[c] != base and not (c.one_per_result and seen):
                keep((c,), changed)
        by_one = set(outcomes.values())
        for a, b in self._pairs(singles, outcomes, inert, base):
            if not self._spend():
                break
            changed = {**self.facts, a.field: a.value, b.field: b.value}
            # A rule that tests one of the fields only is as that change alone leaves it.
            shared = {r.key: self.state(r, changed) for r in self._testing_both(a.field, b.field)}
            if self._same(states[b] | shared, states[a]) or self._same(
                states[a] | shared, states[b]
            ):
                continue  # the pair gives what one of its changes gives alone
            both = states[a] | states[b] | shared
            result = self._predict(changed, both, base)
            fields = tuple(sorted((a.field, b.field)))
            if result not in by_one and (fields, result) not in reported:
                keep((a, b), changed)
        make = partial(counterfactual, cites=self.cites, schema=self.schema)
        return report(found, self.base, make), self.complete

    def _spend(self) -> bool:
        if self.left == 0:
            self.complete = False
            return False
        self.left -= 1
        return True

    def _predict(
        self, facts: Mapping[str, FactValue], states: Mapping[str, object], base: Result
    ) -> Result:
        """The outcome, strength and path deciding `facts` gives, from the rules' states."""
        if self._same(states, {}):
            return base
        if REGION in states:  # other policies may come into force: decide it
            return result_of(self.rerun(facts))
        full = {**self.base_states, **states}
        key = tuple(full[r.key] for r in self.rules)
        known = None if self.predicted is None else self.predicted.get(key)
        if known is not None:
            return known
        fired = [r for r in self.rules if full[r.key] is True]
        maybe = [r for r in self.rules if isinstance(full[r.key], tuple)]
        c = combine(fired, maybe, self.by_id, facts, self.schema)
        result = (
            c.outcome,
            c.strength,
            unique((s.authority, s.action) for r in c.path for s in r.ast.steps),
        )
        if self.predicted is not None:
            self.predicted[key] = result
        return result

    def _pairs(
        self,
        singles: list[Candidate],
        outcomes: Mapping[Candidate, Result],
        inert: set[Candidate],
        base: Result,
    ) -> list[tuple[Candidate, Candidate]]:
        """Pairs of changes to two fields, one of which changes nothing alone, the other
        first; in the order of the schema's fields, nearest first. A change that leaves every
        rule as it was can matter only beside a change to a field one of its rules tests."""
        order = {c: i for i, c in enumerate(singles)}
        rules_of = {f: {r.key for r in rs} for f, rs in self.testing.items()}
        pairs = []
        for a in singles:
            if outcomes.get(a) != base:
                continue
            for b in singles:
                if b not in outcomes:
                    continue
                both_idle = outcomes[b] == base
                if b.field == a.field or (both_idle and order[b] < order[a]):
                    continue
                if a in inert and not rules_of.get(a.field, set()) & rules_of.get(b.field, set()):
                    continue
                pairs.append((a, b) if both_idle else (b, a))
        return sorted(pairs, key=lambda p: (order[p[0]], order[p[1]]))

    def _testing_both(self, one: str, other: str) -> list[RuleR]:
        found = self._both.get((one, other))
        if found is None:
            keys = {r.key for r in self.testing.get(other, [])}
            found = [r for r in self.testing.get(one, []) if r.key in keys]
            self._both[(one, other)] = found
        return found

    def _states(self, facts: Mapping[str, FactValue], fields: tuple[str, ...]) -> dict[str, object]:
        """The state of each rule that tests one of `fields`, by rule key; a region change can
        bring other policies into force, so it gets no states and is always decided again."""
        if REGION in fields:
            return {REGION: None}
        return {r.key: self.state(r, facts) for f in fields for r in self.testing.get(f, [])}

    def _same(self, states: Mapping[str, object], before: Mapping[str, object]) -> bool:
        """Whether facts in `states` must be decided as facts in `before` (the states of a
        change, or {} for the project as it is) are: every rule tested is in the same state,
        those `before` does not list in their state for the project as it is."""
        if REGION in states:
            return False
        return all(s == before.get(k, self.base_states[k]) for k, s in states.items())


def cites_of(every_policy: Sequence[PolicyR]) -> dict[str, tuple[str, ...]]:
    """Each rule's clauses as a counterfactual names them ("document clause"), by rule key."""
    return {
        r.key: tuple(f"{p.header.source} {c.clause}" for c in r.ast.cites)
        for p in every_policy
        for r in p.rules
    }


def report(
    found: Sequence[tuple[tuple[Change, ...], Verdict]], base: Decision, make: Make[Change]
) -> tuple[Counterfactual, ...]:
    """The counterfactuals of the changes `found`, each with the verdict it gave, made by
    `make` (`counterfactual` with the policies' cites and schema). The path is said where
    the outcome alone would not tell the results apart."""
    paths: dict[tuple[Outcome, Strength], set[object]] = {}
    for _, v in found:
        paths.setdefault(v.result[:2], set()).add(v.result[2])
    paths.setdefault((base.outcome, base.strength), set()).add(None)
    before = _deciding(base, waiting=False)
    return tuple(make(changes, v, len(paths[v.result[:2]]) > 1, before) for changes, v in found)


def counterfactual(
    changes: tuple[Candidate, ...],
    v: Verdict,
    with_path: bool,
    before: tuple[str, ...],
    cites: Mapping[str, tuple[str, ...]],
    schema: Schema,
) -> Counterfactual:
    """The counterfactual of `changes`, which gave `v`; `before`, the rules the decision
    itself rests on (they are not named again)."""
    told = tuple(FactChange(c.field, c.value, c.text) for c in changes)
    return counterfactual_of(told, consequence(v, with_path, before, cites, schema))


@dataclass(frozen=True)
class Consequence:
    """What a counterfactual says follows from its changes, whatever they are: `text` is
    its sentence after the arrow."""

    outcome: Outcome
    strength: Strength
    steps: tuple[str, ...]
    rules: tuple[str, ...]
    clauses: tuple[str, ...]
    text: str


def consequence(
    v: Verdict,
    with_path: bool,
    before: tuple[str, ...],
    cites: Mapping[str, tuple[str, ...]],
    schema: Schema,
) -> Consequence:
    outcome, strength, path = v.result
    rules = tuple(k for k in v.rules if k not in before)
    clauses = tuple(dict.fromkeys(c for k in rules for c in cites.get(k, ())))
    steps = tuple(f"{authority}{action}" for authority, action in path)
    if outcome == Outcome.UNDETERMINED:
        missing = "、".join(label(schema, m) for m in v.missing_facts)
        said = f"未能确定（须补充{missing}）"
    else:
        said = outcome_text(outcome, strength)
        is_path = outcome in (Outcome.APPROVE, Outcome.FILE)
        if with_path and steps:
            said += ("路径：" if is_path else "；步骤：") + " → ".join(steps)
        elif with_path and is_path:  # the path waits on facts (dsl.combine)
            said += "（路径未定）"
    if clauses:
        said += f"（{_grouped(clauses)}）"
    return Consequence(outcome, strength, steps, rules, clauses, said)


def counterfactual_of(changes: tuple[FactChange, ...], c: Consequence) -> Counterfactual:
    text = f"若{'且'.join(x.text for x in changes)} → {c.text}"
    return Counterfactual(changes, c.outcome, c.strength, c.steps, c.rules, c.clauses, text)


def _deciding(d: Decision, waiting: bool = True) -> tuple[str, ...]:
    """The rules a decision's result rests on, `rests_on`; with `waiting` false, not those
    waiting on facts (the decision's own waiting rules are what a change brings in, so they
    do not count)."""
    return rests_on(
        d.decided_by, d.steps, [u.rule for u in d.undetermined if waiting and u.outcome]
    )


def rests_on(
    decided_by: str | None, steps: Sequence[PathStep], waiting: Iterable[str]
) -> tuple[str, ...]:
    """The rules a result rests on: the deciding rule, the rules behind the path and, where
    no rule decided, the rules with an outcome that wait on facts (`waiting`)."""
    keys = [decided_by] if decided_by else []
    keys += [b.rule for s in steps for b in s.basis]
    if decided_by is None:  # undetermined, or settled by the candidates
        keys += waiting
    return tuple(dict.fromkeys(keys))


def _grouped(clauses: tuple[str, ...]) -> str:
    """pingliang-2023 二.4、二.5；jiading-2017 四.(二).6: the clauses of one document together."""
    by_doc: dict[str, list[str]] = {}
    for c in clauses:
        doc, _, clause = c.partition(" ")
        by_doc.setdefault(doc, []).append(clause)
    return "；".join(f"{doc} {'、'.join(cs)}" for doc, cs in by_doc.items())


def next_questions(
    base: Decision, facts: Mapping[str, FactValue], policies: Sequence[PolicyR], schema: Schema
) -> tuple[NextQuestion, ...]:
    """For an undetermined decision, its missing facts, those that settle the most
    undetermined rules with an outcome first (ties in the decision's order). A fact settles
    a rule when, whatever value it takes, the rule's condition is no longer unknown; the
    values tried are the candidates above plus an empty text, which names nothing."""
    if base.outcome != Outcome.UNDETERMINED:
        return ()
    waiting = {u.rule for u in base.undetermined if u.outcome}
    rules = [r for p in policies for r in p.rules if r.key in waiting]
    tests = tests_by_field(rules)
    questions = []
    for m in base.missing_facts:
        f = schema.field(m)
        values: list[FactValue] = []
        if f is not None and m in tests:  # the candidates of `candidates` for this field
            values += [c.value for c in field_candidates(f, tests[m], facts.get(m), schema)]
        if f is not None and f.type.kind in ("text", "region"):
            values.append("")
        testing = [r for r in rules if any(t.field == m for t in atomic_tests(r.cond))]
        settles = sum(
            1
            for r in testing
            if values and all(evaluate(r.cond, {**facts, m: v}) is not None for v in values)
        )
        questions.append(NextQuestion(m, label(schema, m), settles))
    return tuple(sorted(questions, key=lambda q: -q.settles))
