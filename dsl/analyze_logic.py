"""The reasoning under `dsl.analyze`: conditions as disjunctions of conjuncts of literals, and
a solver that either builds a concrete project satisfying a conjunct or says why none exists.

Numbers are intervals (以上 closes a bound, 超过 opens it), enum tests are sets of values,
regions are paths (a project lies within a chain of regions), text tests need one phrase of
each positive test and none of any negative one. A comparison with a parameter the text
leaves open is an opaque atom, complementary only to its own negation (x 以上 p against
x 不足 p). Tests of a kind this module does not know are opaque atoms too: satisfiable unless
negated elsewhere, with no value for the witness (so no project is claimed for them).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from dsl.predicates import contains, in_industry, within
from dsl.resolved import NEGATED, AllOf, Cond, NotC, Test
from dsl.schema import DECIMALS, MAX_NUMBER, FactValue, Schema

# Conditions expand to at most this many conjuncts; a larger one is left out of the analysis
# (the checker already bounds what the engine accepts far below this).
MAX_CONJUNCTS = 4096
# Phrase choices tried per conjunct when building the text of a witness.
MAX_TEXT_CHOICES = 256
_GRID = 10**DECIMALS  # facts are kept to 4 decimals of their unit


@dataclass(frozen=True)
class Lit:
    """A test, or its negation."""

    test: Test
    positive: bool

    def negated(self) -> Lit:
        return Lit(self.test, not self.positive)


Conjunct = tuple[Lit, ...]


class TooComplex(Exception):
    """A condition expands to more than MAX_CONJUNCTS conjuncts."""


def dnf(cond: Cond, positive: bool = True) -> tuple[Conjunct, ...]:
    """`cond` (or its negation) as a disjunction of conjuncts; conjuncts holding a literal and
    its negation are dropped, as no project satisfies them."""
    if isinstance(cond, Test):
        return ((Lit(cond, positive),),)
    if isinstance(cond, NotC):
        return dnf(cond.item, not positive)
    parts = [dnf(c, positive) for c in cond.items]
    if isinstance(cond, AllOf) != positive:  # a disjunction
        return tuple(c for p in parts for c in p)
    result: list[Conjunct] = [()]
    for p in parts:
        result = [merged for a in result for b in p if (merged := _merge(a, b)) is not None]
        if len(result) > MAX_CONJUNCTS:
            raise TooComplex
    return tuple(result)


def _merge(a: Conjunct, b: Conjunct) -> Conjunct | None:
    lits = tuple(dict.fromkeys(a + b))
    present = set(lits)
    return None if any(lit.negated() in present for lit in lits) else lits


# ---- intervals ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """Numbers from lo to hi; a closed end includes its number."""

    lo: float = 0.0
    lo_closed: bool = True
    hi: float = MAX_NUMBER
    hi_closed: bool = False

    @classmethod
    def of(cls, op: str, value: float) -> Interval:
        if op == ">=":
            return cls(lo=value)
        if op == ">":
            return cls(lo=value, lo_closed=False)
        if op == "<=":
            return cls(hi=value, hi_closed=True)
        return cls(hi=value)

    def meet(self, other: Interval) -> Interval:
        lo, lo_closed = max((self.lo, not self.lo_closed), (other.lo, not other.lo_closed))
        hi, hi_closed = min((self.hi, self.hi_closed), (other.hi, other.hi_closed))
        return Interval(lo, not lo_closed, hi, hi_closed)

    @property
    def empty(self) -> bool:
        return self.lo > self.hi or (self.lo == self.hi and not (self.lo_closed and self.hi_closed))

    def witness(self) -> float | None:
        """The smallest value a fact can hold (4 decimals) in the interval, if any."""
        value = math.ceil(self.lo * _GRID - 1e-6) / _GRID
        if value == self.lo and not self.lo_closed:
            value += 1 / _GRID
        value = round(value, DECIMALS)
        ok = value < self.hi or (value == self.hi and self.hi_closed)
        return value if ok else None

    def between(self, upper: Interval) -> Interval:
        """The values strictly between this interval and a disjoint one above it."""
        return Interval(self.hi, not self.hi_closed, upper.lo, not upper.lo_closed)

    def minus(self, other: Interval) -> list[Interval]:
        below = Interval(self.lo, self.lo_closed, other.lo, not other.lo_closed).meet(self)
        above = Interval(other.hi, not other.hi_closed, self.hi, self.hi_closed).meet(self)
        return [i for i in (below, above) if not i.empty]

    def literals(self, field: str) -> tuple[Lit, ...]:
        """Comparisons on `field` that hold exactly inside the interval."""
        lits = []
        if self.lo > 0 or not self.lo_closed:
            lits.append(Lit(Test("cmp", field, ">=" if self.lo_closed else ">", self.lo), True))
        if self.hi < MAX_NUMBER:
            lits.append(Lit(Test("cmp", field, "<=" if self.hi_closed else "<", self.hi), True))
        return tuple(lits)

    def show(self, unit: str = "") -> str:
        hi = "∞" if self.hi >= MAX_NUMBER else _number(self.hi)
        left, right = "[" if self.lo_closed else "(", "]" if self.hi_closed else ")"
        return f"{left}{_number(self.lo)}, {hi}{right} {unit}".rstrip()


def _number(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def interval_of(lits: Iterable[Lit], field: str) -> Interval | None:
    """The interval the concrete comparisons on `field` allow; None when none constrains it."""
    found = [_cmp_interval(lit) for lit in lits if _is_concrete_cmp(lit, field)]
    if not found:
        return None
    result = Interval()
    for i in found:
        result = result.meet(i)
    return result


def _is_concrete_cmp(lit: Lit, field: str) -> bool:
    t = lit.test
    return t.kind == "cmp" and t.field == field and not t.unspecified


def _cmp_interval(lit: Lit) -> Interval:
    op = lit.test.op if lit.positive else NEGATED[lit.test.op]
    return Interval.of(op, lit.test.value)


def without_field(lits: Iterable[Lit], field: str) -> tuple[Lit, ...]:
    """The literals other than the concrete comparisons on `field`."""
    return tuple(lit for lit in lits if not _is_concrete_cmp(lit, field))


# ---- the solver ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Solution:
    """A project (the tested facts) satisfying the literals, or the reason none exists.
    `complete` is False when a test of an unknown kind left its field without a value."""

    facts: tuple[tuple[str, FactValue], ...] = ()
    contradiction: str = ""
    complete: bool = True

    @property
    def sat(self) -> bool:
        return not self.contradiction


def solve(lits: Sequence[Lit], schema: Schema) -> Solution:
    facts: list[tuple[str, FactValue]] = []
    complete = True
    groups: dict[str, list[Lit]] = {}
    for lit in lits:
        groups.setdefault(lit.test.field, []).append(lit)
    for field, group in groups.items():
        kinds = frozenset(lit.test.kind for lit in group)
        solver = next((s for family, s in _SOLVERS if kinds <= family), None)
        found = _opaque(group) if solver is None else solver(group, schema)
        if isinstance(found, _Unsat):
            return Solution(contradiction=f"{_label(schema, field)}: {found.reason}")
        if found is None:
            complete = False
        else:
            facts.append((field, found))
    return Solution(tuple(facts), complete=complete)


@dataclass(frozen=True)
class _Unsat:
    reason: str


def _label(schema: Schema, field: str) -> str:
    f = schema.field(field)
    return f"{f.label} ({field})" if f is not None else field


def _opaque(group: list[Lit]) -> _Unsat | None:
    """A test of a kind this module does not model: only its own negation contradicts it."""
    present = set(group)
    clash = any(lit.negated() in present for lit in group)
    return _Unsat(f"{group[0].test.kind} test and its negation") if clash else None


def _bools(group: list[Lit], schema: Schema) -> FactValue | _Unsat:
    values = {lit.positive for lit in group}
    return _Unsat("must be both true and false") if len(values) > 1 else values.pop()


def _numbers(group: list[Lit], schema: Schema) -> FactValue | _Unsat:
    symbolic: dict[tuple[str, str], bool] = {}
    for lit in group:
        t = lit.test
        if t.unspecified:
            # x >= p is exactly not (x < p): one atom per parameter and family of operators
            family, sign = _FAMILY[t.op]
            holds = sign == lit.positive
            if symbolic.setdefault((t.param, family), holds) != holds:
                return _Unsat(f"on both sides of the unspecified parameter {t.param}")
    interval = interval_of(group, group[0].test.field) or Interval()
    value = interval.witness()
    if value is None:
        bounds = " and ".join(
            f"{NEGATED[lit.test.op] if not lit.positive else lit.test.op} {_number(lit.test.value)}"
            for lit in group
            if not lit.test.unspecified
        )
        return _Unsat(f"no number is {bounds}")
    return value


_FAMILY = {">=": (">=", True), "<": (">=", False), ">": (">", True), "<=": (">", False)}


def _enums(group: list[Lit], schema: Schema) -> FactValue | _Unsat:
    f = schema.field(group[0].test.field)
    allowed = [v.name for v in f.type.values] if f is not None else []
    for lit in group:
        allowed = [v for v in allowed if (v in lit.test.values) == lit.positive]
    if not allowed:
        said = " and ".join(
            f"{'in' if lit.positive else 'not in'} {{{', '.join(lit.test.values)}}}"
            for lit in group
        )
        return _Unsat(f"no value is {said}")
    return allowed[0]


def _regions(group: list[Lit], schema: Schema) -> FactValue | _Unsat:
    inside = [lit.test.values[0] for lit in group if lit.positive]
    outside = [lit.test.values[0] for lit in group if not lit.positive]
    deepest = max(inside, key=lambda r: r.count("/"), default="")
    apart = next((r for r in inside if not within(deepest, r)), None)
    if apart is not None:
        return _Unsat(f"no region lies within both {deepest} and {apart}")
    if not deepest:
        # no region is required: any region outside the excluded ones will do
        free = (r for r in _OTHER_REGIONS if not any(within(r, o) for o in outside))
        deepest = next(free, _OTHER_REGIONS[0])
    excluded = next((o for o in outside if within(deepest, o)), None)
    if excluded is not None:
        return _Unsat(f"within {deepest} is within {excluded}, which is excluded")
    return deepest


# Regions for a project that must only avoid some: test regions no policy names.
_OTHER_REGIONS = ("甲省", "乙省")


def _texts(group: list[Lit], schema: Schema) -> FactValue | _Unsat:
    """A text holding a phrase of each positive `contains` and none of a negative one, and
    being a spelling of every positive industry test and of no negative one."""
    wanted = [lit.test.values for lit in group if lit.positive and lit.test.kind == "contains"]
    banned = [lit.test.values for lit in group if not lit.positive and lit.test.kind == "contains"]
    member = [lit.test.values for lit in group if lit.positive and lit.test.kind == "industry"]
    outside = [lit.test.values for lit in group if not lit.positive and lit.test.kind == "industry"]
    if member:
        candidates: Iterable[str] = [t for t in member[0] if all(t in m for m in member[1:])]
    elif wanted:
        candidates = ("、".join(choice) for choice in itertools.product(*wanted))
    else:
        candidates = _OTHER_TEXTS
    for text in itertools.islice(candidates, MAX_TEXT_CHOICES):
        if (
            all(contains(text, phrases) for phrases in wanted)
            and not any(contains(text, phrases) for phrases in banned)
            and not any(in_industry(text, spellings) for spellings in outside)
        ):
            return text
    return _Unsat("no text passes every test on it")


# Texts for a field that only excludes phrases: one of them holds none of a rule's phrases.
_OTHER_TEXTS = ("其他", "甲")

# The solver of a field by the kinds of its tests (a field has one type; a text field takes
# both phrase and industry tests).
_SOLVERS: tuple[tuple[frozenset[str], Callable[[list[Lit], Schema], FactValue | _Unsat]], ...] = (
    (frozenset({"bool"}), _bools),
    (frozenset({"eq"}), _enums),
    (frozenset({"cmp"}), _numbers),
    (frozenset({"within"}), _regions),
    (frozenset({"contains", "industry"}), _texts),
)
