"""Python source for a resolved policy set: each condition as direct comparisons on the facts
dict, compiled once with `compile()` (dsl/compiled.py runs it).

Three-valued logic is kept exactly as dsl/interpret.py evaluates it, with the values coded as
small integers so that Kleene's connectives are plain arithmetic: 0 false, 1 unknown, 2 true;
`且` is min, `或` is max and `非` is 2 - x. A missing fact or a parameter the text leaves open
is 1, as `interpret.test` gives None for it.

Per policy, one function `run_<i>(f)` evaluates every distinct atomic test of the policy's
rules once and returns (R, T): R the value of each rule's condition in rule order, T the value
of each distinct test followed by whether each field read only by tests of open parameters is
present (for the others a test's value says it). R says which rules fire;
T is everything else a decision can depend on (which test fails first, which facts are
missing, what an unknown condition would need). Per rule, `state_<i>_<j>(f)` gives what
dsl/counterfactual.py keeps of a rule: True, False, or for an unknown condition the value of
each of its atomic tests in reading order (interpret's True / False / None).

Every compound condition gets a local of its own, so no generated expression nests: a deep
condition cannot reach the Python compiler's limit on nested parentheses. Literals are written
with repr(), which gives valid Python for every string and float (the checker keeps numbers in
range), and nothing else of the policy's text reaches the source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dsl.predicates import contains, in_industry, within
from dsl.resolved import AllOf, Cond, NotC, PolicyR, PolicySet, RuleR, Test
from dsl.schema import FactValue

Facts = Mapping[str, FactValue]
Run = Callable[[Facts], tuple[tuple[int, ...], tuple[object, ...]]]
State = Callable[[Facts], object]

FALSE, UNKNOWN, TRUE = 0, 1, 2
_TRI = (False, None, True)  # the interpreter's values, by code


@dataclass(frozen=True)
class PolicyCode:
    """One policy's generated functions and what their vectors stand for."""

    policy: PolicyR
    run: Run
    states: dict[str, State]  # rule key -> its state function
    tests: tuple[Test, ...]  # the distinct atomic tests, in T's order
    presence: tuple[str, ...]  # the fields whose presence T gives after the tests
    reads: tuple[tuple[int, ...], ...]  # per rule, the places in T of what it reads


class _Writer:
    """Source lines for one function body over one set of tests."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.fields: dict[str, str] = {}  # field -> local holding its value
        self.tests: dict[Test, str] = {}  # distinct test -> local holding its value
        self.temps: dict[str, str] = {}  # expression -> local holding its value
        self.specified: set[str] = set()  # fields with a test of a bound the text gives

    def reads(self, cond: Cond) -> tuple[int, ...]:
        """The places in T of `cond`'s tests and of what says whether each field it reads
        through a test of an open parameter is present: the field's presence where only
        such tests read it, else a test of a bound the text gives on that field (unknown
        exactly when the field is missing), which may be another rule's."""
        order = {t: i for i, t in enumerate(self.tests)}
        only = self.unspecified_only()
        specified = {t.field: i for t, i in reversed(order.items()) if not t.unspecified}
        tests = _atomic(cond)
        places = {order[t] for t in tests}
        for t in tests:
            if t.unspecified:
                places.add(
                    len(order) + only.index(t.field) if t.field in only else specified[t.field]
                )
        return tuple(sorted(places))

    def unspecified_only(self) -> list[str]:
        """Fields read only by tests of open parameters: a test's value says whether any
        other field is present (unknown exactly when it is missing), not theirs."""
        return [f for f in self.fields if f not in self.specified]

    def value(self, field: str) -> str:
        name = self.fields.get(field)
        if name is None:
            name = self.fields[field] = f"v{len(self.fields)}"
            self.lines.append(f"{name} = f.get({field!r})")
        return name

    def test(self, t: Test) -> str:
        name = self.tests.get(t)
        if name is None:
            v = self.value(t.field)
            if not t.unspecified:
                self.specified.add(t.field)
            name = self.tests[t] = f"t{len(self.tests)}"
            self.lines.append(f"{name} = {_test_expression(t, v)}")
        return name

    def cond(self, c: Cond) -> str:
        """A local holding the value of `c`."""
        if isinstance(c, Test):
            return self.test(c)
        if isinstance(c, NotC):
            inner = self.cond(c.item)
            return self._temp(f"2 - {inner}")
        items = list(dict.fromkeys(self.cond(x) for x in c.items))
        if len(items) == 1:
            return items[0]
        if len(items) == 2:  # a conditional expression costs less than a call
            a, b = items
            less = "<" if isinstance(c, AllOf) else ">"
            return self._temp(f"{a} if {a} {less} {b} else {b}")
        join = "min" if isinstance(c, AllOf) else "max"
        return self._temp(f"{join}({', '.join(items)})")

    def _temp(self, expression: str) -> str:
        """A local for `expression`, computed once however often the conditions use it."""
        name = self.temps.get(expression)
        if name is None:
            name = self.temps[expression] = f"a{len(self.temps)}"
            self.lines.append(f"{name} = {expression}")
        return name


def _test_expression(t: Test, v: str) -> str:
    """One atomic test as interpret.test evaluates it, coded 0 / 1 / 2."""
    if t.unspecified:
        return "1"
    if t.kind == "bool":
        holds = v
    elif t.kind == "cmp":
        holds = f"{v} {t.op} {float(t.value)!r}"
    elif t.kind == "eq":
        holds = f"{v} == {t.values[0]!r}" if len(t.values) == 1 else f"{v} in {t.values!r}"
    elif t.kind == "within":
        holds = f"_within(str({v}), {t.values[0]!r})"
    elif t.kind == "industry":
        holds = f"_in_industry(str({v}), {t.values!r})"
    else:
        holds = f"_contains(str({v}), {t.values!r})"
    return f"1 if {v} is None else (2 if {holds} else 0)"


def _run_source(name: str, rules: tuple[RuleR, ...]) -> tuple[str, _Writer]:
    w = _Writer()
    results = [w.cond(r.cond) for r in rules]
    presence = [f"{w.fields[f]} is not None" for f in w.unspecified_only()]
    body = [
        *w.lines,
        f"return ({''.join(f'{r}, ' for r in results)}), "
        f"({''.join(f'{x}, ' for x in [*w.tests.values(), *presence])})",
    ]
    return _function(name, body), w


def _state_source(name: str, rule: RuleR) -> str:
    w = _Writer()
    result = w.cond(rule.cond)
    occurrences = [f"_TRI[{w.test(t)}]" for t in _atomic(rule.cond)]
    body = [
        *w.lines,
        f"if {result} == 2:",
        "    return True",
        f"if {result} == 0:",
        "    return False",
        f"return ({''.join(f'{x}, ' for x in occurrences)})",
    ]
    return _function(name, body)


def _atomic(c: Cond) -> list[Test]:
    """interpret.atomic_tests, as a list (the same reading order)."""
    if isinstance(c, Test):
        return [c]
    if isinstance(c, NotC):
        return _atomic(c.item)
    return [t for x in c.items for t in _atomic(x)]


def _function(name: str, body: list[str]) -> str:
    return f"def {name}(f):\n" + "".join(f"    {line}\n" for line in body)


def _module(policies: PolicySet) -> tuple[str, list[_Writer]]:
    parts: list[str] = []
    writers: list[_Writer] = []
    for i, p in enumerate(policies.policies):
        source, writer = _run_source(f"run_{i}", p.rules)
        parts.append(source)
        writers.append(writer)
        parts += [_state_source(f"state_{i}_{j}", r) for j, r in enumerate(p.rules)]
    return "\n".join(parts), writers


def generate(policies: PolicySet) -> tuple[PolicyCode, ...]:
    """Every policy's functions, compiled from one generated module."""
    source, writers = _module(policies)
    namespace: dict[str, object] = {
        "_TRI": _TRI,
        "_within": within,
        "_in_industry": in_industry,
        "_contains": contains,
    }
    code = compile(source, f"<zhengce policy set {policies.revision}>", "exec")
    exec(code, namespace)  # the source holds repr() literals of checked policies only
    return tuple(
        PolicyCode(
            p,
            namespace[f"run_{i}"],  # type: ignore[arg-type]
            {r.key: namespace[f"state_{i}_{j}"] for j, r in enumerate(p.rules)},  # type: ignore[misc]
            tuple(w.tests),
            tuple(w.unspecified_only()),
            tuple(w.reads(r.cond) for r in p.rules),
        )
        for i, (p, w) in enumerate(zip(policies.policies, writers, strict=True))
    )
