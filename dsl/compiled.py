"""The compiled evaluator: the policy set as generated Python (dsl/codegen.py), and decisions
assembled from parts kept by what they depend on, identical to what `dsl.decide.assemble`
makes step by step (tests/test_differential.py holds the two to it, explanation included).

A decision is split by what it depends on:
- the policies in force, by region and date (`_Scope`);
- the skeleton: outcome, path, citations, parameters, undetermined rules, next questions …
  everything but the facts and the date. It depends only on which rules fire (R, per
  policy); where a rule's condition is unknown, also on the values of the tests the unknown
  rules read (in T, with which of their facts are present): dsl.combine settles or leaves
  open the verdict from those, and the missing facts and next questions are theirs;
- the facts used and the date, filled in for each decision;
- with explain: why each other rule failed (which test, from T; the words, kept by that
  test and the actual value), each fired rule's trace (kept by the values its tests read),
  and the counterfactuals. Their search depends on T, on the candidate changes of each field
  tested (dsl.counterfactual.field_candidates, kept by the field's value) and on nothing
  else while the region stays (every change it decides again keeps the policies in force):
  dsl/cell_search.py runs it on T and the rules' states packed in ints, with predictions
  and verifications kept by those; a verification is a verdict (`_verdict`: the firing
  combined, what a counterfactual reads), not a whole decision. Where a rule tests the
  region, a change of region brings other policies in force, so
  dsl.counterfactual.Search runs it as it is, deciding each changed project again.

Each kept part is a pure function of its key, so a decision made from kept parts is the one
`assemble` makes. The caches are plain dicts, shared by threads (a part computed twice by two
threads is the same part) and emptied when they reach LIMIT entries.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dsl import cell_search
from dsl.cell_search import LIMIT, CellSpace, remember, tag
from dsl.codegen import FALSE, TRUE, UNKNOWN, PolicyCode, generate
from dsl.combine import combine
from dsl.counterfactual import (
    Counterfactual,
    Search,
    Verdict,
    rests_on,
    tests_by_field,
    verdict_of,
)
from dsl.dates import date_or_today
from dsl.decide import (
    Decision,
    WhyNot,
    assemble,
    not_covered,
    path_of,
    policies_in_force,
    why_not_of,
)
from dsl.interpret import Failure, Firing, atomic_tests, first_failure
from dsl.resolved import PolicyR, PolicySet, RuleR, Test
from dsl.schema import Facts, FactValue
from dsl.trace import DEFAULT, GIVEN, FactUsed, RuleTrace, trace_rule

REGION = "region"


def _getter(places: tuple[int, ...]) -> Callable[[tuple[object, ...]], object]:
    """The values of T at `places`, as one key (for one place the value itself)."""
    if not places:
        return lambda vector: ()
    return operator.itemgetter(*places)


def _with(decision: Decision, changes: Mapping[str, object]) -> Decision:
    """A copy of a kept decision with the parts of this one. dataclasses.replace runs the
    frozen __init__ over all 31 fields, which took longer than the whole rest of a cached
    decision (38 µs against 1.5 µs measured here); the copy is new, so nothing kept changes."""
    made = object.__new__(Decision)
    made.__dict__.update(decision.__dict__)
    made.__dict__.update(changes)
    return made


@dataclass(frozen=True)
class _Skeleton:
    decision: Decision  # its facts and date are those of the first project it was made for
    fired: tuple[RuleR, ...]


@dataclass(frozen=True)
class _Scope:
    """The policies in force for one region and date, or the not-covered decision."""

    ids: tuple[str, ...]
    by_id: dict[str, PolicyR]
    codes: tuple[PolicyCode, ...]
    rules: tuple[RuleR, ...]  # every rule of those policies, in order
    uncovered: _Skeleton | None  # when none is in force: the not-covered decision
    names: tuple[str, ...]  # the fields those rules test, in the schema's order
    region_tested: bool  # a rule tests the region: the counterfactuals are not kept
    reads: tuple[tuple[int, ...], ...]  # per rule, the places in T of what it reads
    read: tuple[Callable[[tuple[object, ...]], object], ...]  # per rule, those values of T


class CompiledEvaluator:
    """The `Evaluator` that runs generated code, and makes whole decisions (`decision`, which
    dsl.decide.decide asks for) from kept parts."""

    def __init__(self, policies: PolicySet) -> None:
        self.policies = policies
        self._codes = {c.policy.id: c for c in generate(policies)}
        self._states = {k: s for c in self._codes.values() for k, s in c.states.items()}
        self._names = tuple(f.name for f in policies.schema.fields)
        self._days: dict[str, str] = {}
        self._scopes: dict[tuple[str, str], _Scope] = {}
        self._skeletons: dict[tuple[object, ...], _Skeleton] = {}
        self._verdicts: dict[tuple[object, ...], Verdict] = {}  # by the skeleton's key
        self._open: dict[tuple[object, ...], Callable[[tuple[object, ...]], object]] = {}
        self._failures: dict[tuple[object, ...], tuple[tuple[RuleR, Test, bool], ...]] = {}
        self._failure: dict[tuple[str, object], tuple[tuple[Test, bool] | None]] = {}
        self._explained: dict[tuple[object, ...], dict[str, object]] = {}
        self._facts: dict[tuple[object, ...], FactUsed] = {}
        self._why_not: dict[tuple[object, ...], WhyNot | None] = {}
        self._traces: dict[tuple[object, ...], RuleTrace] = {}
        self._reads = {  # the fields each rule's tests read
            r.key: tuple(dict.fromkeys(t.field for t in atomic_tests(r.cond)))
            for r in policies.rules
        }
        self._spaces: dict[tuple[str, ...], CellSpace] = {}
        self._predicted: dict[tuple[str, ...], dict[tuple[object, ...], Any]] = {}

    # ---- the Evaluator protocol ---------------------------------------------------------------

    def fire(self, facts: Mapping[str, FactValue], policy_ids: Iterable[str]) -> Firing:
        definite: list[str] = []
        possible: list[str] = []
        for pid in policy_ids:
            code = self._codes.get(pid)
            if code is None:
                continue
            results, _ = code.run(facts)
            for rule, value in zip(code.policy.rules, results, strict=True):
                if value == TRUE:
                    definite.append(rule.key)
                elif value == UNKNOWN:
                    possible.append(rule.key)
        return Firing(frozenset(definite), frozenset(possible))

    def state(self, rule: RuleR, facts: Mapping[str, FactValue]) -> object:
        """What dsl.counterfactual keeps of a rule, from its generated function."""
        return self._states[rule.key](facts)

    # ---- whole decisions ----------------------------------------------------------------------

    def decision(
        self,
        policies: PolicySet,
        facts: Mapping[str, FactValue],
        date: str | None,
        explain: bool,
    ) -> Decision:
        if policies is not self.policies:  # kept parts are this set's only
            return assemble(policies, self, facts, date, explain)
        day = self._day(facts, date)
        scope, results, vector, skeleton = self._skeleton(facts, day)
        used = self._facts_used(facts)
        if scope.uncovered is not None:
            return _with(skeleton.decision, {"facts": used})
        decision = _with(skeleton.decision, {"facts": used, "date": day})
        if not explain:
            return decision
        if scope.region_tested:  # the counterfactuals reach other policies: not kept
            return _with(
                decision, self._explain(scope, skeleton, results, vector, decision, facts, day)
            )
        # The values of every field tested decide T, and so all that explain adds.
        values = tuple(map(facts.get, scope.names))
        seen = (scope.ids, tuple(map(tag, values)), values)
        explained = self._explained.get(seen)
        if explained is None:
            parts = self._explain(scope, skeleton, results, vector, decision, facts, day)
            explained = remember(self._explained, seen, parts)
        return _with(decision, explained)

    # ---- the parts ----------------------------------------------------------------------------

    def _skeleton(
        self, facts: Mapping[str, FactValue], day: str
    ) -> tuple[_Scope, tuple[int, ...], tuple[object, ...], _Skeleton]:
        """The scope, R and T for the facts, and the kept skeleton."""
        scope, results, vector, key = self._key(facts, day)
        if scope.uncovered is not None:
            return scope, results, vector, scope.uncovered
        skeleton = self._skeletons.get(key)
        if skeleton is None:
            made = assemble(self.policies, self, facts, day, explain=False)
            fired_keys = {f.id for f in made.rules}
            fired = tuple(r for r in scope.rules if r.key in fired_keys)
            skeleton = remember(self._skeletons, key, _Skeleton(made, fired))
        return scope, results, vector, skeleton

    def _key(
        self, facts: Mapping[str, FactValue], day: str
    ) -> tuple[_Scope, tuple[int, ...], tuple[object, ...], tuple[object, ...]]:
        """The scope, R and T for the facts, and what the skeleton is kept by (where none is
        in force, nothing: the scope holds the decision)."""
        scope = self._scope(str(facts.get(REGION, "")), day)
        if scope.uncovered is not None:
            return scope, (), (), ()
        vector: tuple[object, ...]
        if len(scope.codes) == 1:  # the common case, without the joining
            results, vector = scope.codes[0].run(facts)
        else:
            runs = [c.run(facts) for c in scope.codes]
            results = tuple(v for r, _ in runs for v in r)
            vector = tuple(t for _, r in runs for t in r)
        key: tuple[object, ...] = (scope.ids, results)
        if UNKNOWN in results:  # then also what the unknown rules read (see the docstring)
            read = self._open.get(key)
            if read is None:
                places = {p for i, v in enumerate(results) if v == UNKNOWN for p in scope.reads[i]}
                getter: Callable[[tuple[object, ...]], object] = operator.itemgetter(
                    *sorted(places)
                )
                read = remember(self._open, key, getter)
            key = (scope.ids, results, read(vector))
        return scope, results, vector, key

    def _decided(self, facts: Mapping[str, FactValue], day: str) -> Decision:
        """A changed project decided again, for dsl.counterfactual.Search, which reads its
        result and rules only: the kept decision as it is, its facts and date another's."""
        return self._skeleton(facts, day)[3].decision

    def _verdict(self, facts: Mapping[str, FactValue], day: str) -> Verdict:
        """A changed project decided again for dsl/cell_search.py, as far as a counterfactual
        reads it: the rules fired by the generated code, combined (dsl.combine) into the
        result and path that `assemble` gives, without what else a decision holds. It
        depends on what the skeleton depends on, and is kept by the same key."""
        scope, results, _, key = self._key(facts, day)
        if scope.uncovered is not None:  # a change keeps the region: not for the search
            return verdict_of(scope.uncovered.decision)
        verdict = self._verdicts.get(key)
        if verdict is None:
            skeleton = self._skeletons.get(key)
            if skeleton is not None:
                verdict = verdict_of(skeleton.decision)
            else:
                fired = [r for r, v in zip(scope.rules, results, strict=True) if v == TRUE]
                maybe = [r for r, v in zip(scope.rules, results, strict=True) if v == UNKNOWN]
                c = combine(fired, maybe, scope.by_id, facts, self.policies.schema)
                steps = path_of(c.path, scope.by_id)
                waiting = [r.key for r in maybe if r.ast.outcome]
                verdict = Verdict(
                    (c.outcome, c.strength, tuple((s.authority, s.action) for s in steps)),
                    c.missing_facts,
                    rests_on(c.decided_by, steps, waiting),
                )
            verdict = remember(self._verdicts, key, verdict)
        return verdict

    def _day(self, facts: Mapping[str, FactValue], date: str | None) -> str:
        """dsl.decide.evaluation_date, with each date given read once (today is not kept)."""
        given = date or facts.get("date")
        if not given:
            return date_or_today(None)
        text = str(given)
        day = self._days.get(text)
        if day is None:
            day = remember(self._days, text, date_or_today(text))
        return day

    def _scope(self, region: str, day: str) -> _Scope:
        scope = self._scopes.get((region, day))
        if scope is not None:
            return scope
        covering, active = policies_in_force(self.policies, region, day)
        rules = tuple(r for p in active for r in p.rules)
        tests = tests_by_field(rules)
        fields = tuple(f for f in self.policies.schema.fields if f.name in tests)
        codes = tuple(self._codes[p.id] for p in active)
        reads, offset = [], 0
        for c in codes:  # T of several policies is theirs end to end
            reads += [tuple(offset + i for i in places) for places in c.reads]
            offset += len(c.tests) + len(c.presence)
        scope = _Scope(
            ids=tuple(p.id for p in active),
            by_id={p.id: p for p in active},
            codes=codes,
            rules=rules,
            uncovered=None
            if active
            else _Skeleton(not_covered(self.policies, covering, region, day), ()),
            names=tuple(f.name for f in fields),
            region_tested=REGION in tests,
            reads=tuple(reads),
            read=tuple(_getter(places) for places in reads),
        )
        return remember(self._scopes, (region, day), scope)

    def _facts_used(self, facts: Mapping[str, FactValue]) -> tuple[FactUsed, ...]:
        """dsl.trace.facts_used, each FactUsed kept by its name, value and source (not the
        whole tuple: projects seldom repeat all their facts, and every object kept is one
        more for the garbage collector to walk)."""
        defaulted = facts.defaulted if isinstance(facts, Facts) else frozenset()
        kept = self._facts
        out = []
        for name in self._names:
            if name not in facts:
                continue
            value = facts[name]
            kind: object = value.__class__  # tag, inline: this loop is most of a decision
            if kind is float and value == 0.0:
                kind = math.copysign(1.0, value)
            key = (name, kind, value, name in defaulted)
            used = kept.get(key)
            if used is None:
                made = FactUsed(name, value, DEFAULT if name in defaulted else GIVEN)
                used = remember(kept, key, made)
            out.append(used)
        return tuple(out)

    def _first_failures(
        self,
        scope: _Scope,
        results: tuple[int, ...],
        vector: tuple[object, ...],
        facts: Mapping[str, FactValue],
    ) -> tuple[tuple[RuleR, Test, bool], ...]:
        """For each rule whose condition is false, its first failing test (with a source):
        what dsl.decide.assemble explains. It depends on the values of the rule's tests
        only, so it is kept by those (in T), for the cells alike there."""
        out = []
        for rule, value, read in zip(scope.rules, results, scope.read, strict=True):
            if value != FALSE:
                continue
            key = (rule.key, read(vector))
            kept = self._failure.get(key)
            if kept is None:  # kept in a 1-tuple, as None is an answer too (no source)
                failure = first_failure(rule.cond, facts)
                made = None
                if failure is not None and failure.test.source is not None:
                    made = (failure.test, failure.negated)
                kept = remember(self._failure, key, (made,))
            if kept[0] is not None:
                out.append((rule, *kept[0]))
        return tuple(out)

    def _explain(
        self,
        scope: _Scope,
        skeleton: _Skeleton,
        results: tuple[int, ...],
        vector: tuple[object, ...],
        decision: Decision,
        facts: Mapping[str, FactValue],
        day: str,
    ) -> dict[str, object]:
        """What explain adds, as dsl.decide.assemble words it."""
        schema = self.policies.schema
        failures = self._failures.get((scope.ids, vector))
        if failures is None:
            failures = self._first_failures(scope, results, vector, facts)
            remember(self._failures, (scope.ids, vector), failures)
        why_not = []
        for rule, test, negated in failures:  # each worded from its test and the value
            actual = facts.get(test.field)
            key = (rule.key, id(test), negated, tag(actual), actual)  # tests live on
            said = self._why_not.get(key)
            if said is None:
                said = why_not_of(rule, Failure(test, negated, actual), schema)
                remember(self._why_not, key, said)
            if said is not None:
                why_not.append(said)
        traces = []
        for r in skeleton.fired:  # each from the values its tests read
            values = tuple(map(facts.get, self._reads[r.key]))
            read = (r.key, tuple(map(tag, values)), values)
            trace = self._traces.get(read)
            if trace is None:
                trace = remember(self._traces, read, trace_rule(r, facts, schema))
            traces.append(trace)
        found, complete = self._counterfactuals(scope, vector, decision, facts, day)
        return {
            "why_not": tuple(why_not),
            "trace": tuple(traces),
            "counterfactuals": found,
            "counterfactuals_complete": complete,
        }

    def _counterfactuals(
        self,
        scope: _Scope,
        vector: tuple[object, ...],
        base: Decision,
        facts: Mapping[str, FactValue],
        day: str,
    ) -> tuple[tuple[Counterfactual, ...], bool]:
        predicted = self._predicted.get(scope.ids)
        if predicted is None:
            predicted = remember(self._predicted, scope.ids, {})
        elif len(predicted) >= LIMIT:
            predicted.clear()

        def search() -> Search:
            return Search(
                base,
                facts,
                [c.policy for c in scope.codes],
                self.policies.policies,
                self.policies.schema,
                lambda changed: self._decided(changed, day),
                self.state,
                predicted,
            )

        if scope.region_tested:
            return search().run()
        space = self._spaces.get(scope.ids)
        if space is None:
            made = CellSpace(scope.codes, self.policies.policies, self.policies.schema)
            space = remember(self._spaces, scope.ids, made)
        fields = space.changes(facts)
        kept = cell_search.search(
            space, vector, fields, base, facts, lambda changed: self._verdict(changed, day)
        )
        if kept is None:  # over the budget: where the search stops is Search's to say
            return search().run([c.candidate for f in fields for c in f.choices])
        return kept
