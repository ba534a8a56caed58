"""Compile resolved policies into one durable-rules ruleset, and run it behind `ReteEngine`.

durable-rules 2.0.28 measured on this machine (see the tests in tests/test_engine.py and the
comments below): `$ne` is rejected (error 202), `$nex` crashes the process after a state
delete, and anchored regexes (`^…$`) crash or hang. So every condition is compiled to
disjunctive normal form, one durable rule per conjunct, each conjunct a flat `$and` of
equality and ordering tests only:
- a negated enum test becomes equality with each other value;
- a fact that may be missing gets a presence flag `h<i>` (1 or 0) instead of `$nex`;
- region, text and industry predicates are computed in Python (dsl.predicates, shared with
  the interpreter) into 0/1 flags `x<i>`, because the engine's regexes cannot be negated.
Three-valued logic is kept by compiling each rule twice: once for "definitely true" (unknown
counts as false) and once for "possibly true" (unknown counts as true).

A fact that matches no rule makes durable-rules raise MessageNotHandledException, and when
that is the first fact of the process the following delete_state segfaults. So the ruleset
always holds a sentinel rule that matches every fact, and its firing is ignored.

durable's Host also starts two self-rescheduling timer threads that dispatch queued actions
and rule timers. We use neither (assert_fact runs our actions synchronously), and those
threads race assert_fact and delete_state outside any lock of ours: lost firings, error 307,
segfaults (measured in tests/test_engine_threads.py), and two threads leaked per engine. So
the engine uses a Host that never starts them.

durable-rules cannot read numbers that JSON writes with an exponent (1e-05, 1e+16), and text
it need not see can only hurt it (a lone surrogate breaks assert_fact): thresholds outside
NUMBER_RANGE are a checker error, facts are validated into that range (dsl/schema.py), and
text and region values stay in Python, reaching the engine only as flags.
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dsl.interpret import Firing
from dsl.predicates import contains, in_industry, within
from dsl.resolved import NEGATED, AllOf, AnyOf, Cond, NotC, PolicyR, PolicySet, Test
from dsl.schema import FactValue, Schema

MAX_CONJUNCTS = 256

# A formula in positive normal form over durable atoms: True, False, an atom dict,
# or ("and" | "or", [formulas]).
Formula = Any

_DURABLE_OPS = {">=": "$gte", ">": "$gt", "<=": "$lte", "<": "$lt"}
SENTINEL = "sentinel"


def engine_number_ok(value: float) -> bool:
    """Whether durable-rules can read this number: JSON writes no exponent for it."""
    return "e" not in repr(float(value))


def _synchronous_host() -> Any:
    from durable import engine as durable_engine

    class SynchronousHost(durable_engine.Host):  # type: ignore[misc]
        def _run(self) -> None:
            pass  # no background dispatcher: see the module docstring

    return SynchronousHost()


class CompileError(Exception):
    pass


@dataclass(frozen=True)
class Compiled:
    """One durable ruleset per policy (JSON form, actions excluded), so an evaluation asserts
    only into the policies in force, and what each durable rule id stands for."""

    rulesets: dict[str, dict[str, dict[str, Any]]]  # policy id -> its durable rules
    targets: dict[str, tuple[str, str]]  # durable rule id -> (rule key, "definite" | "possible")
    fields: dict[str, str]  # schema field -> durable attribute
    engine_fields: frozenset[str]  # fields whose values the engine compares (numbers, enums)
    features: tuple[Test, ...]  # string tests computed in Python, flag x<i>


class _Compiler:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.fields = {f.name: f"f{i}" for i, f in enumerate(schema.fields)}
        self.enum_values = {f.name: tuple(v.name for v in f.type.values) for f in schema.fields}
        self.optional = {f.name for f in schema.fields if schema.may_be_missing(f)}
        self.features: list[Test] = []

    def feature(self, t: Test) -> str:
        if t not in self.features:
            self.features.append(t)
        return f"x{self.features.index(t)}"

    def atom(self, t: Test, positive: bool) -> Formula:
        attr = self.fields[t.field]
        if t.kind == "bool":
            return {attr: 1 if positive else 0}
        if t.kind == "cmp":
            op = t.op if positive else NEGATED[t.op]
            return {_DURABLE_OPS[op]: {attr: t.value}}
        if t.kind == "eq":
            chosen = (
                t.values
                if positive
                else tuple(v for v in self.enum_values[t.field] if v not in t.values)
            )
            return ("or", [{attr: v} for v in chosen])
        return {self.feature(t): 1 if positive else 0}

    def formula(self, c: Cond, positive: bool, definite: bool) -> Formula:
        if isinstance(c, NotC):
            return self.formula(c.item, not positive, definite)
        if isinstance(c, AllOf | AnyOf):
            conj = isinstance(c, AllOf) == positive
            return ("and" if conj else "or", [self.formula(x, positive, definite) for x in c.items])
        if c.unspecified:
            return not definite
        atom = self.atom(c, positive)
        if c.field not in self.optional:
            return atom
        flag = f"h{self.fields[c.field][1:]}"
        if definite:
            return ("and", [{flag: 1}, atom])
        return ("or", [{flag: 0}, atom])

    def conjuncts(self, cond: Cond, mode: str) -> list[list[dict[str, Any]]]:
        return _dnf(self.formula(cond, True, mode == "definite"))

    def compile(self, policies: Iterable[PolicyR]) -> Compiled:
        rulesets: dict[str, dict[str, dict[str, Any]]] = {}
        targets: dict[str, tuple[str, str]] = {}
        counter = itertools.count()
        for policy in policies:
            ruleset = rulesets.setdefault(policy.id, {SENTINEL: {"all": [{"m": {"k": 1}}]}})
            for rule in policy.rules:
                definite = self.conjuncts(rule.cond, "definite")
                possible = self.conjuncts(rule.cond, "possible")
                if max(len(definite), len(possible)) > MAX_CONJUNCTS:
                    raise CompileError(f"rule {rule.key} is too complex for the Rete engine")
                # Without optional facts or open parameters "possibly" is "definitely": each
                # durable firing costs tens of microseconds, so do not compile it twice.
                modes = [("definite", definite)]
                if possible != definite:
                    modes.append(("possible", possible))
                for mode, conjuncts in modes:
                    for conj in conjuncts:
                        rid = f"r{next(counter)}"
                        tests = conj or [{"k": 1}]
                        cond = tests[0] if len(tests) == 1 else {"$and": tests}
                        ruleset[rid] = {"all": [{"m": cond}]}
                        targets[rid] = (rule.key, mode)
        engine_fields = frozenset(
            f.name for f in self.schema.fields if f.type.kind in ("number", "enum")
        )
        return Compiled(rulesets, targets, dict(self.fields), engine_fields, tuple(self.features))


def _dnf(f: Formula) -> list[list[dict[str, Any]]]:
    """Disjunctive normal form: a list of conjuncts, each a list of atoms. [] is false,
    [[]] is true."""
    if f is True:
        return [[]]
    if f is False:
        return []
    if isinstance(f, dict):
        return [[f]]
    kind, items = f
    parts = [_dnf(x) for x in items]
    if kind == "or":
        return [c for p in parts for c in p]
    result: list[list[dict[str, Any]]] = [[]]
    for p in parts:
        result = [a + b for a in result for b in p]
        if len(result) > MAX_CONJUNCTS:
            raise CompileError("condition too complex for the Rete engine")
    return result


def compile_policies(policies: PolicySet) -> Compiled:
    return _Compiler(policies.schema).compile(policies.policies)


def fits_the_engine(cond: Cond, schema: Schema) -> bool:
    """Whether the condition compiles to at most MAX_CONJUNCTS durable rules in each mode."""
    compiler = _Compiler(schema)
    try:
        return all(
            len(compiler.conjuncts(cond, mode)) <= MAX_CONJUNCTS
            for mode in ("definite", "possible")
        )
    except CompileError:
        return False


class ReteEngine:
    """The `Evaluator` backed by durable-rules. Each evaluation asserts one fact under its own
    session id and deletes the session afterwards (the C engine keeps state per sid)."""

    def __init__(self, policies: PolicySet) -> None:
        self.policies = policies
        self.compiled = compile_policies(policies)
        self._fired: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self._sids = itertools.count()
        # A ruleset name can be registered only once per process: make each one unique.
        prefix = f"zhengce_{policies.revision}_{uuid.uuid4().hex[:8]}"
        self._names = {pid: f"{prefix}_{i}" for i, pid in enumerate(self.compiled.rulesets)}
        self._host = _synchronous_host()
        self._host.set_rulesets(
            {
                self._names[pid]: {
                    rid: {**spec, "run": self._action(rid)} for rid, spec in rules.items()
                }
                for pid, rules in self.compiled.rulesets.items()
            }
        )

    def _action(self, rid: str) -> Any:
        def run(c: Any) -> None:
            self._fired[c.m["sid"]].add(rid)

        return run

    def fact(self, facts: Mapping[str, FactValue], sid: str) -> dict[str, Any]:
        out: dict[str, Any] = {"sid": sid, "k": 1}
        for name, attr in self.compiled.fields.items():
            value = facts.get(name)
            out[f"h{attr[1:]}"] = 0 if value is None else 1
            if isinstance(value, bool):
                out[attr] = 1 if value else 0
            elif name in self.compiled.engine_fields and value is not None:
                out[attr] = value
        for i, t in enumerate(self.compiled.features):
            value = facts.get(t.field)
            if value is None:
                out[f"x{i}"] = 0
            elif t.kind == "within":
                out[f"x{i}"] = int(within(str(value), t.values[0]))
            elif t.kind == "industry":
                out[f"x{i}"] = int(in_industry(str(value), t.values))
            else:
                out[f"x{i}"] = int(contains(str(value), t.values))
        return out

    def fire(self, facts: Mapping[str, FactValue], policy_ids: Iterable[str]) -> Firing:
        names = [self._names[p] for p in dict.fromkeys(policy_ids) if p in self._names]
        if not names:
            return Firing(frozenset(), frozenset())
        sid = f"s{next(self._sids)}"
        fact = self.fact(facts, sid)
        with self._lock:
            self._fired[sid] = set()
            try:
                for name in names:
                    try:
                        self._host.assert_fact(name, fact)
                    finally:
                        self._host.delete_state(name, sid)
            finally:
                fired = self._fired.pop(sid)
        definite: set[str] = set()
        possible: set[str] = set()
        for rid in fired - {SENTINEL}:
            key, mode = self.compiled.targets[rid]
            (definite if mode == "definite" else possible).add(key)
        # A rule compiled only once (no unknowns possible) that fired is definite.
        return Firing(frozenset(definite), frozenset(possible - definite))
