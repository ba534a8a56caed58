"""Projects to replay an edit on (dsl.impact), made from what the rules test.

`boundary_projects`: for each rule and each way its condition can hold (a conjunct of
dsl.analyze_logic.dnf), the project the analysis' solver builds for it in the policy's region
(a witness: the rule fires), and for each concrete comparison in it, the project the solver
builds for the rest of the conjunct, with the compared fact just below, at and just above
the bound. Facts keep DECIMALS places of their unit, so "just" is
one step of 0.0001 of the unit: at 以上 1000万元 the bound itself decides, at 超过 1000万元
the value one step above it does, and both sides are always among the projects.

`sample`: generated projects for a replay at scale, drawn for each index from the values
the rules of both sets test (a `Palette`), so that any partition of a range of indexes can
be generated where it is decided (dsl.impact, server.impact_dask) and always the same.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from dsl.analyze_base import Scope
from dsl.analyze_logic import Lit, TooComplex, dnf, solve, without_field
from dsl.interpret import atomic_tests
from dsl.resolved import NEGATED, PolicySet, RuleR
from dsl.schema import DECIMALS, MAX_NUMBER, FactValue

SCALE = 10**DECIMALS
SYMBOL = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}
# Region values that no seed policy covers, for projects outside every policy.
UNCOVERED = "甲省"
PRESENT = 0.75  # the share of a generated project's optional facts that are given


@dataclass(frozen=True)
class Generated:
    """A project with its evaluation date (None: the project's own, else today) and what it
    was made for."""

    facts: dict[str, Any]  # FactValue here; any JSON where a decision log's request was read
    date: str | None
    label: str


def around(bound: float) -> tuple[float, ...]:
    """The representable values just below, at (both neighbours when the bound falls between
    two, such as 1亩 in 平方米) and just above `bound`, within the range facts may take."""
    scaled = Fraction(bound) * SCALE
    steps = {math.floor(scaled) - 1, math.floor(scaled), math.ceil(scaled), math.ceil(scaled) + 1}
    return tuple(
        float(Fraction(s, SCALE)) for s in sorted(steps) if s >= 0 and s / SCALE < MAX_NUMBER
    )


def _concrete(lit: Lit) -> bool:
    return lit.test.kind == "cmp" and not lit.test.unspecified


def boundary_projects(policies: PolicySet) -> list[Generated]:
    """A witness of each way each rule fires, and projects at every concrete threshold of
    the set; each once, in rule order."""
    seen: set[tuple[tuple[tuple[str, FactValue], ...], str | None]] = set()
    found = []
    for p in policies.policies:
        scope = Scope.of(p)
        date = p.header.effective_from or p.header.issued or None
        for r in p.rules:
            for g in _at_thresholds(policies, r, scope, date):
                key = (tuple(sorted(g.facts.items())), g.date)
                if key not in seen:
                    seen.add(key)
                    found.append(g)
    return found


def _at_thresholds(
    policies: PolicySet, rule: RuleR, scope: Scope, date: str | None
) -> Iterator[Generated]:
    try:
        conjuncts = dnf(rule.cond)
    except TooComplex:
        return
    for conjunct in conjuncts:
        witness = solve((*conjunct, scope.literal()), policies.schema)
        if witness.sat:
            yield Generated(dict(witness.facts), date, f"{rule.key}: 条件成立")
        for field in dict.fromkeys(lit.test.field for lit in conjunct if _concrete(lit)):
            rest = (*without_field(conjunct, field), scope.literal())
            solution = solve(rest, policies.schema)
            if not solution.sat:
                continue
            f = policies.schema.field(field)
            name, unit = (f.label, f.type.unit) if f is not None else (field, "")
            for lit in conjunct:
                if not (_concrete(lit) and lit.test.field == field):
                    continue
                t = lit.test
                op = t.op if lit.positive else NEGATED[t.op]
                bound = f"{name} {SYMBOL[op]} {_number(t.value)}{unit}"
                for value in around(t.value):
                    facts = dict(solution.facts) | {field: value}
                    yield Generated(facts, date, f"{rule.key}: {bound}，取 {_number(value)}")


def _number(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


# ---- generated projects at scale ----------------------------------------------------------


@dataclass(frozen=True)
class Palette:
    """The values a generated project draws from: per field tested by a rule of either set,
    the values on either side of each bound, every enum value, both truths, every region a
    policy names (with one below it and one outside all), every phrase and industry a rule
    names; and the evaluation dates around each policy's period."""

    fields: tuple[tuple[str, tuple[FactValue, ...]], ...]
    dates: tuple[str, ...]
    region: str  # the field that places a project (dsl.decide), always given


def palette(sets: Sequence[PolicySet]) -> Palette:
    tests: dict[str, list[float | str]] = {}
    regions: dict[str, None] = {}
    dates: dict[str, None] = {}
    for policies in sets:
        for p in policies.policies:
            regions |= dict.fromkeys((p.header.region, f"{p.header.region}/某区"))
            dates |= dict.fromkeys(_period_dates(p.header.effective_from, p.header.effective_until))
            for r in p.rules:
                for t in atomic_tests(r.cond):
                    values = tests.setdefault(t.field, [])
                    if t.kind == "cmp" and not t.unspecified:
                        values += around(t.value)
                    elif t.kind in ("contains", "industry"):
                        values += t.values
    schema = sets[-1].schema
    fields: list[tuple[str, tuple[FactValue, ...]]] = []
    for f in schema.fields:
        if f.name == "region":
            fields.append((f.name, (*regions, UNCOVERED)))
        elif f.name in tests and f.type.kind == "enum":
            fields.append((f.name, tuple(v.name for v in f.type.values)))
        elif f.name in tests and f.type.kind == "bool":
            fields.append((f.name, (True, False)))
        elif tests.get(f.name):
            found = tuple(dict.fromkeys(tests[f.name]))
            fields.append((f.name, (0.0, *found) if f.type.kind == "number" else found))
    return Palette(tuple(fields), tuple(dates), "region")


def _period_dates(start: str, end: str) -> list[str]:
    out = []
    for day, shifts in ((start, (-1, 0)), (end, (0, 1))):
        if day:
            d = dt.date.fromisoformat(day)
            out += [(d + dt.timedelta(days=s)).isoformat() for s in shifts]
    return out


def sample(colours: Palette, start: int, count: int, seed: int = 0) -> list[Generated]:
    """Projects `start` … `start + count - 1` of the sequence `seed` names: each drawn on its
    own from its index, so any partition gives the same projects."""
    out = []
    for index in range(start, start + count):
        rng = random.Random(seed * 1_000_003 + index)
        facts = {
            name: rng.choice(values)
            for name, values in colours.fields
            if name == colours.region or rng.random() < PRESENT
        }
        date = rng.choice(colours.dates) if colours.dates else None
        out.append(Generated(facts, date, f"#{index}"))
    return out
