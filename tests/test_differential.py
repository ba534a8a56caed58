"""Differential tests: the reference interpreter, the compiled evaluator and the durable-rules
engine must give the same `Firing` and the same `decide(...)` for every project.

Two policy sets are used: the seed policies in policies/ (5,000 generated projects), and
synthetic sets built from random rule files (random And/Or/Not conditions over the whole
schema, negated enums, enum labels, optional fields, known and unspecified parameters, several
regions and effective periods), parsed and checked like real files.

Every project is decided by all three, without explanation; the explained decision (why not,
trace, counterfactuals: what costs) is compared between the interpreter and the compiled
evaluator on every project, to the byte of its JSON, and twice for the compiled one (the second
time from the parts it kept), and with the durable-rules engine too on a few hundred
(`test_the_rete_engine_explains_alike`): each of its counterfactuals decides the changed
project again, and its firing is compared on every project already.

Numbers durable-rules cannot read (written with an exponent) are kept out by the schema and
the checker; the tests at the end of this file pin that.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import random
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path

import pytest
from hypothesis import example, find, given, settings
from hypothesis import strategies as st

import dsl.compiled
from dsl import ast, resolved
from dsl.check import check_policy, check_schema
from dsl.codegen import generate
from dsl.compile import ReteEngine, engine_number_ok
from dsl.compiled import CompiledEvaluator
from dsl.decide import Decision, decide, evaluation_date, policies_in_force
from dsl.fmt import format_module
from dsl.industry import parse_classification
from dsl.interpret import Interpreter, atomic_tests
from dsl.load import INDUSTRY_FILE, load_folder
from dsl.parser import parse
from dsl.resolved import COMPARATORS, AllOf, AnyOf, Cond, NotC, PolicyR, PolicySet
from dsl.schema import FactValue, Schema
from dsl.sources import ClauseSource
from dsl.units import Quantity
from dsl.vocabulary import Outcome, Strength
from kb.corpus import Corpus
from tests.conftest import examples
from tests.test_engine_threads import random_project

ROOT = Path(__file__).resolve().parent.parent
PILOT_ID = "pingliang-2023"

REGIONS = [
    "甘肃省",
    "甘肃省/平凉市",
    "甘肃省/平凉市/崆峒区",
    "甘肃省/平凉市/泾川县",
    "甘肃省/平凉市区",  # shares a prefix with 甘肃省/平凉市 but does not lie within it
    "甘肃省/兰州市",
    "陕西省/西安市",
    "上海市/嘉定区/安亭镇",
]
PHRASES = ["装备制造", "新材料", "化工", "物流", "平凉工业园区", "高新区", "集中区"]
# Industry classes a rule tests (大类 and whole 门类), and values naming them by code, bare
# number or name, padded, of a 门类 only, of another class, and free text that says 化工.
INDUSTRY_CODES = ["C26", "C27", "C28", "C", "B", "P83", "K70"]
INDUSTRY_VALUES = [
    "C26",
    "26",
    "化学原料和化学制品制造业",
    " C26 ",
    "C27",
    "医药制造业",
    "C",
    "制造业",
    "教育",
    "P",
    "06",
    "化工装备制造",
    "化工",
    "c26",
]


class Evaluators:
    def __init__(self, policies: PolicySet) -> None:
        self.policies = policies
        self.interp = Interpreter(policies)
        self.rete = ReteEngine(policies)
        self.compiled = CompiledEvaluator(policies)
        self.codes = {c.policy.id: c for c in generate(policies)}

    def cell(self, facts: Mapping[str, FactValue], date: str | None) -> tuple[object, ...]:
        """The policies in force and T, the values of their tests (dsl/codegen.py): what
        a decision, its explanation included, depends on beside the facts' own values."""
        day = evaluation_date(facts, date)
        _, active = policies_in_force(self.policies, str(facts.get("region", "")), day)
        return tuple((p.id, self.codes[p.id].run(facts)[1]) for p in active)

    def assert_agree(
        self, project: dict[str, object], date: str | None, rete_explains: bool = False
    ) -> None:
        facts, errors = self.policies.schema.validate(project)
        assert errors == [], errors
        # Every policy, not only those in force: the evaluators must not care which are asked.
        everything = [p.id for p in self.policies.policies]
        want = self.interp.fire(facts, everything)
        assert not want.definite & want.possible
        assert self.compiled.fire(facts, everything) == want
        assert self.rete.fire(facts, everything) == want
        # decide() asks for the policies in force, by region and date, and explains the rest.
        plain = decide(self.policies, self.interp, facts, date, explain=False)
        assert decide(self.policies, self.rete, facts, date, explain=False) == plain
        explained = decide(self.policies, self.interp, facts, date, explain=True)
        # As JSON: equal dataclasses may still differ there (True == 1.0, 0.0 == -0.0).
        want = _json(explained)
        for _ in range(2):
            assert decide(self.policies, self.compiled, facts, date, explain=False) == plain
            got = decide(self.policies, self.compiled, facts, date, explain=True)
            assert _json(got) == want
        if rete_explains:
            assert decide(self.policies, self.rete, facts, date, explain=True) == explained


def _json(d: Decision) -> str:
    return json.dumps(d.to_json(), ensure_ascii=False)


# ---- projects -------------------------------------------------------------------------------


def _near(values: set[float]) -> list[float]:
    """Each threshold, a cent either side, and the floats right next to it."""
    out = set()
    for v in values:
        for x in (v, v - 0.01, v + 0.01, math.nextafter(v, 0), math.nextafter(v, math.inf)):
            if x >= 0 and engine_number_ok(x):
                out.add(x)
    return sorted(out)


def _days(policies: PolicySet) -> list[str]:
    """Both ends of each effective period, a day either side, and a day well inside."""
    out = set()
    for p in policies.policies:
        start, until = p.header.effective_from, p.header.effective_until
        for day in (start, until):
            if day:
                d = dt.date.fromisoformat(day)
                out |= {(d + dt.timedelta(days=k)).isoformat() for k in (-1, 0, 1)}
        if start:
            out.add((dt.date.fromisoformat(start) + dt.timedelta(days=100)).isoformat())
    return sorted(out)


def projects(policies: PolicySet) -> st.SearchStrategy[dict[str, object]]:
    """Projects over every schema field: optional fields sometimes left out, numbers near the
    thresholds the rules use, enum values by name or label, texts with and without the
    phrases rules look for, regions inside and outside the policies' regions."""
    schema = policies.schema
    thresholds: dict[str, set[float]] = {}
    for r in policies.rules:
        for t in atomic_tests(r.cond):
            if t.kind == "cmp" and not t.unspecified:
                thresholds.setdefault(t.field, set()).add(t.value)
    # Half the projects lie in (or below) a policy's region, half anywhere.
    homes = sorted({p.header.region for p in policies.policies})
    regions = st.one_of(
        st.sampled_from(homes + [f"{h}/某区" for h in homes]), st.sampled_from(REGIONS)
    )
    days = st.one_of(
        st.sampled_from(_days(policies) or ["2024-01-01"]),
        st.dates(dt.date(2010, 1, 1), dt.date(2035, 12, 31)).map(dt.date.isoformat),
    )
    texts = st.one_of(
        st.sampled_from(PHRASES),
        st.sampled_from(INDUSTRY_VALUES),
        st.lists(st.sampled_from(PHRASES), max_size=3).map("、".join),
        st.text(max_size=10),
        st.text(st.sampled_from('"\\{}中文 装备'), max_size=8),
    )
    strategies: dict[str, st.SearchStrategy[object]] = {}
    for f in schema.fields:
        kind = f.type.kind
        value: st.SearchStrategy[object]
        if kind == "region":
            value = regions
        elif kind == "text":
            value = texts
        elif kind == "enum":
            value = st.sampled_from(
                [v.name for v in f.type.values] + [v.label for v in f.type.values]
            )
        elif kind == "bool":
            value = st.booleans()
        elif kind == "date":
            value = days
        else:
            near = _near(thresholds.get(f.name, set()))
            value = st.one_of(
                st.sampled_from(near) if near else st.nothing(),
                st.integers(0, 25),
                st.integers(0, 10**6),
                # Rounded so that no repr needs an exponent (see the module docstring).
                st.floats(0, 1e7).map(lambda x: round(x, 4)),
            )
        # None leaves the field out: its default, if any, then applies.
        strategies[f.name] = value if f.required else st.one_of(st.none(), value)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, object]:
        project = {}
        for name, strategy in strategies.items():
            value = draw(strategy)
            if value is not None:
                project[name] = value
        return project

    return build()


def decision_dates(policies: PolicySet) -> st.SearchStrategy[str | None]:
    """No date (the project's own, else today), or one on an effective-period boundary."""
    return st.one_of(st.none(), st.sampled_from([*_days(policies), "2030-01-01"]))


# ---- the seed policies ------------------------------------------------------------------------


@cache
def seed() -> Evaluators:
    result = load_folder(ROOT / "policies", Corpus(ROOT))
    assert result.policies is not None, result.render()
    return Evaluators(result.policies)


# Deferred: the policies load when the test runs, not when pytest collects the module.
@settings(max_examples=examples(5000), deadline=None)
@given(
    st.deferred(lambda: projects(seed().policies)),
    st.deferred(lambda: decision_dates(seed().policies)),
)
# 以上 includes the amount: 999.99 / 1000 / 1000.01 万元 for a non-land project.
@example({"region": "甘肃省/平凉市", "land_use": "none", "investment_wan": 999.99}, None)
@example({"region": "甘肃省/平凉市", "land_use": "none", "investment_wan": 1000}, None)
@example({"region": "甘肃省/平凉市", "land_use": "none", "investment_wan": 1000.01}, None)
@example({"region": "甘肃省/平凉市", "land_use": "none"}, "2023-08-01")
@example({"region": "甘肃省/平凉市", "land_use": "lease"}, "2024-01-01")
# 前10 / 前2名 include the 10th and the 2nd place.
@example({"region": "甘肃省/平凉市", "subject": "park_assessment", "province_rank": 10}, None)
@example({"region": "甘肃省/平凉市", "subject": "园区年度考评", "city_rank": 3}, None)
def test_seed_policies_evaluators_agree(project: dict[str, object], date: str | None) -> None:
    seed().assert_agree(project, date)


def test_seed_thresholds_fire_where_the_text_says() -> None:
    # Agreement alone would pass if both evaluators were wrong the same way: pin one rule.
    key = f"{PILOT_ID}/非供地项目备案"
    evaluators = seed()
    if evaluators.policies.policy(PILOT_ID) is None:
        pytest.skip("the pilot policy is not in policies/")
    for amount, fires in ((999.99, False), (1000, True), (1000.01, True)):
        project = {"region": "甘肃省/平凉市", "land_use": "none", "investment_wan": amount}
        facts, _ = evaluators.policies.schema.validate(project)
        for evaluator in (evaluators.interp, evaluators.compiled, evaluators.rete):
            assert (key in evaluator.fire(facts, [PILOT_ID]).definite) is fires, (amount, evaluator)


# ---- synthetic policy sets --------------------------------------------------------------------


class AnyQuote:
    """A ClauseSource with one document, `doc`, whose clauses contain any quote: normalize()
    maps every text to "", and "" is in "". Synthetic rules cite freely."""

    def has_document(self, document: str) -> bool:
        return document == "doc"

    def clause_ids(self, document: str) -> list[str]:
        return ["1", "2", "3"]

    def resolve_clause(self, document: str, clause: str) -> str | None:
        return clause if clause in self.clause_ids(document) else None

    def nearest_clauses(self, document: str, clause: str) -> list[str]:
        return []

    def clause_text(self, document: str, clause: str) -> str | None:
        return "合成条款" if clause in self.clause_ids(document) else None

    def normalize(self, text: str) -> str:
        return ""

    def document_region(self, document: str) -> str | None:
        return None  # synthetic policies take any region

    def document_provenance(self, document: str) -> str | None:
        return None


SOURCE: ClauseSource = AnyQuote()


@cache
def schema() -> Schema:
    module = parse((ROOT / "policies" / "schema.zc").read_text("utf-8"), "schema.zc")
    checked, diags = check_schema(module)
    assert checked is not None and not [d for d in diags if d.is_error], diags
    data = ROOT / "policies" / INDUSTRY_FILE
    industries, problems = parse_classification(data.read_text("utf-8"), str(data))
    assert problems == [], problems
    return dataclasses.replace(checked, industries=industries)


# Quantities per field unit, chosen so that several spell the same amount in other units.
AMOUNTS = {
    "万元": [
        ("1000", "万元"),
        ("0.1", "亿元"),
        ("999.99", "万元"),
        ("5000000", "元"),
        ("100", "万元"),
    ],
    "平方米": [("1000", "平方米"), ("1.5", "亩"), ("0.1", "公顷"), ("0.001", "平方公里")],
    "%": [("50", "%"), ("75", "%"), ("25.5", "%")],
    "": [("10", ""), ("2", ""), ("5", ""), ("2.5", "")],
}
PARAMS = [
    ("金额门槛", Quantity("1000", "万元")),
    ("金额上限", Quantity("2", "亿元")),
    ("面积门槛", Quantity("2", "亩")),
    ("名次门槛", Quantity("10")),
    ("占比门槛", Quantity("60", "%")),
    ("未定金额", "万元"),
    ("未定面积", "平方米"),
    ("未定占比", "%"),
]
STEPS = [("市园区办", "备案"), ("县政府", "审核"), ("领导小组", "审定"), ("市政府", "审批")]
CITE = (ast.Cite("1", "合成条款"),)


class RuleWriter:
    """Random rule files over the schema, as ASTs; the test formats, parses and checks them."""

    def __init__(self, rng: random.Random, schema: Schema) -> None:
        self.rng = rng
        self.fields = [f for f in schema.fields if f.type.kind != "date"]

    def label_or_name(self, name: str, label: str) -> str:
        return label if self.rng.random() < 0.3 else name

    def atom(self) -> ast.Expr:
        rng = self.rng
        f = rng.choice(self.fields)
        ref = ast.FieldRef(self.label_or_name(f.name, f.label))
        kind = f.type.kind
        if kind == "bool":
            if rng.random() < 0.5:
                return ast.Truth(ref)
            return ast.IsValue(ref, rng.choice(["true", "false", "真", "假"]), rng.random() < 0.5)
        if kind == "enum":
            values = [self.label_or_name(v.name, v.label) for v in f.type.values]
            if rng.random() < 0.5:
                return ast.IsValue(ref, rng.choice(values), rng.random() < 0.5)
            return ast.InSet(ref, tuple(rng.sample(values, rng.randint(1, min(3, len(values))))))
        if kind == "region":
            return ast.Within(ref, rng.choice(REGIONS[:6]))
        if kind == "text" and rng.random() < 0.5:
            return ast.InIndustry(ref, tuple(rng.sample(INDUSTRY_CODES, rng.randint(1, 2))))
        if kind == "text":
            return ast.Contains(ref, tuple(rng.sample(PHRASES, rng.randint(1, 2))))
        op = rng.choice(sorted(COMPARATORS))
        usable = [
            name
            for name, value in PARAMS
            if (value.unit if isinstance(value, Quantity) else value) == f.type.unit
        ]
        if usable and rng.random() < 0.4:
            return ast.Compare(ref, op, ast.ParamRef(rng.choice(usable)))
        return ast.Compare(ref, op, Quantity(*rng.choice(AMOUNTS[f.type.unit])))

    def expr(self, depth: int) -> ast.Expr:
        rng = self.rng
        roll = rng.random()
        if depth == 0 or roll < 0.35:
            return self.atom()
        if roll < 0.5:
            return ast.Not(self.expr(depth - 1))
        items = tuple(self.expr(depth - 1) for _ in range(rng.randint(2, 3)))
        return ast.And(items) if roll < 0.75 else ast.Or(items)

    def rule(self, name: str, targets: list[str]) -> ast.Rule:
        """A rule; `targets` are what it may declare precedence over (earlier rules of its
        policy, and other policies of the set)."""
        rng = self.rng
        outcome = rng.choice([None, Outcome.PROHIBIT, Outcome.APPROVE, Outcome.FILE, Outcome.FILE])
        steps = tuple(ast.Step(*s) for s in rng.sample(STEPS, rng.randint(0, 2)))
        # Discretionary only where the checker allows it: no outcome and no steps.
        strengths = [Strength.MANDATORY] * 3 + [Strength.PRESUMPTIVE, Strength.BY_LAW]
        if outcome is None and not steps:
            strengths.append(Strength.DISCRETIONARY)

        def declared() -> tuple[ast.Priority, ...]:
            if not targets or rng.random() < 0.75:
                return ()
            return (ast.Priority(rng.choice(targets), CITE[0]),)

        return ast.Rule(
            name=name,
            title=f"合成规则 {name}",
            cites=CITE,
            when=self.expr(3),
            outcome=outcome,
            steps=steps,
            obligations=("签订责任书",) if rng.random() < 0.2 else (),
            benefits=("奖励",) if rng.random() < 0.1 else (),
            notes=("合成",) if rng.random() < 0.2 else (),
            strength=rng.choice(strengths),
            exception_to=declared(),
            prevails_over=declared(),
            exception_routes=("经市政府批准",) if rng.random() < 0.2 else (),
        )

    def module(self, policy_id: str, others: list[str]) -> ast.Module:
        rng = self.rng
        start = dt.date(2018, 1, 1) + dt.timedelta(days=rng.randint(0, 6 * 365))
        until = start + dt.timedelta(days=rng.randint(200, 3 * 365)) if rng.random() < 0.4 else None
        header = ast.PolicyHeader(
            id=policy_id,
            source="doc",
            title="合成政策",
            region=rng.choice([*REGIONS[:6], "上海市/嘉定区"]),
            effective_from=start.isoformat(),
            effective_until=until.isoformat() if until else "",
            trial=rng.random() < 0.2,
        )
        params = [
            ast.Param(
                name,
                value if isinstance(value, Quantity) else None,
                value.unit if isinstance(value, Quantity) else value,
                CITE,
            )
            for name, value in PARAMS
        ]
        names = [f"规则{i}" for i in range(rng.randint(3, 8))]
        rules = [self.rule(name, names[:i] + others) for i, name in enumerate(names)]
        return ast.Module(f"{policy_id}.zc", (header, *params, *rules), rng.choice(["zh", "en"]))


def synthetic_policy_set(seed: int, size: int) -> PolicySet:
    rng = random.Random(seed)
    writer = RuleWriter(rng, schema())
    policies: list[PolicyR] = []
    while len(policies) < size:
        policy_id = f"syn{seed}-{len(policies)}"
        module = writer.module(policy_id, [p.id for p in policies])
        # Through the text, as a drafter's file would go: format, parse, check.
        text = format_module(module)
        policy, diags = check_policy(parse(text, module.path), schema(), SOURCE)
        errors = [d for d in diags if d.is_error]
        if errors and all(d.code == "condition_too_complex" for d in errors):
            continue  # a normal form beyond the engine's MAX_CONJUNCTS: draw another
        assert policy is not None and not errors, (text, diags)
        policies.append(policy)
    return PolicySet(schema(), tuple(policies), f"synthetic-{seed}")


@cache
def synthetic() -> tuple[tuple[Evaluators, st.SearchStrategy[dict[str, object]]], ...]:
    sets = (synthetic_policy_set(n, size=3) for n in (1, 2, 3, 4))
    return tuple((Evaluators(p), projects(p)) for p in sets)


def test_synthetic_sets_exercise_what_the_pilot_does_not() -> None:
    # Guards the generator: the agreement test below is only as strong as what it covers.
    conds = [r.cond for e, _ in synthetic() for r in e.policies.rules]
    tests = [t for c in conds for t in atomic_tests(c)]

    def negated_enums(c: Cond, negated: bool = False) -> int:
        if isinstance(c, resolved.Test):
            return int(negated and c.kind == "eq")
        if isinstance(c, NotC):
            return negated_enums(c.item, not negated)
        return sum(negated_enums(x, negated) for x in c.items)

    assert {t.kind for t in tests} == {"bool", "cmp", "eq", "within", "contains", "industry"}
    assert any(t.unspecified for t in tests)
    assert any(t.param and not t.unspecified for t in tests)
    assert sum(negated_enums(c) for c in conds) >= 3
    assert any(isinstance(c, AllOf) and any(isinstance(x, AnyOf) for x in c.items) for c in conds)
    assert any(p.header.effective_until for e, _ in synthetic() for p in e.policies.policies)
    rules = [r.ast for e, _ in synthetic() for r in e.policies.rules]
    assert {r.strength for r in rules} == set(Strength)
    assert any(r.exception_to for r in rules) and any(r.prevails_over for r in rules)
    targets = [p.target for r in rules for p in r.exception_to + r.prevails_over]
    assert any(t.startswith("syn") for t in targets)  # a whole policy
    assert any(not t.startswith("syn") for t in targets)  # a rule of the same policy


@pytest.mark.slow  # generates until each case is seen: seconds each
@pytest.mark.parametrize(
    ("what", "holds"),
    [
        (
            "a declared precedence overrides a rule",
            lambda d: any("（依据" in o.reason for o in d.overridden),
        ),
        (
            "a mandatory prohibition overrides a path",
            lambda d: any("禁止优先于" in o.reason for o in d.overridden),
        ),
        (
            "a presumptive prohibition",
            lambda d: d.outcome == "prohibit" and d.strength == "presumptive",
        ),
        ("an undetermined verdict", lambda d: d.outcome == "undetermined" and d.missing_facts),
        ("a region not covered", lambda d: d.outcome == "not_covered" and "地区" in d.reason),
        ("a date not covered", lambda d: d.outcome == "not_covered" and "施行" in d.reason),
    ],
)
def test_synthetic_decisions_exercise_the_new_semantics(
    what: str, holds: Callable[[Decision], object]
) -> None:
    """Guards the generator: the agreement test compares these decisions across engines."""
    cases = st.one_of(
        *(st.tuples(st.just(e), projects) for e, projects in synthetic()),
    )
    days = st.dates(dt.date(2017, 1, 1), dt.date(2030, 12, 31)).map(dt.date.isoformat)

    def decided(case: tuple[tuple[Evaluators, dict[str, object]], str]) -> Decision:
        (evaluators, project), day = case
        facts, _ = evaluators.policies.schema.validate(project)
        # The verdict is all this looks at: no explanation (counterfactuals take milliseconds).
        return decide(evaluators.policies, evaluators.interp, facts, day, explain=False)

    find(
        st.tuples(cases, days),
        lambda case: bool(holds(decided(case))),
        settings=settings(max_examples=5000),
    )


@settings(max_examples=examples(1500), deadline=None)
@given(st.data())
def test_synthetic_policies_evaluators_agree(data: st.DataObject) -> None:
    evaluators, project_strategy = data.draw(st.sampled_from(synthetic()))
    project = data.draw(project_strategy)
    date = data.draw(st.one_of(st.none(), st.dates(dt.date(2017, 1, 1), dt.date(2030, 12, 31))))
    evaluators.assert_agree(project, date.isoformat() if date else None)


@pytest.mark.slow  # the Rete engine decides each counterfactual again: tens of ms a project
@settings(max_examples=examples(200), deadline=None)
@given(st.data())
def test_the_rete_engine_explains_alike(data: st.DataObject) -> None:
    evaluators, project_strategy = data.draw(
        st.sampled_from([(seed(), st.deferred(lambda: projects(seed().policies))), *synthetic()])
    )
    project = data.draw(project_strategy)
    evaluators.assert_agree(project, data.draw(decision_dates(evaluators.policies)), True)


# ---- cells: projects alike to every test, with other values ------------------------------------


def sibling(
    evaluators: Evaluators, project: dict[str, object], date: str | None, moves: list[float]
) -> dict[str, object]:
    """The project with each number moved by the next of `moves` and each enum set to
    another value, where that keeps its cell: another project that every test of the
    policies in force reads alike, with other values (numbers nearest the bounds, words)."""
    schema = evaluators.policies.schema
    facts, _ = schema.validate(project)
    cell = evaluators.cell(facts, date)
    out = dict(project)
    for k, f in enumerate(schema.fields):
        value = out.get(f.name)
        if f.type.kind == "number" and isinstance(value, int | float):
            options: list[object] = [round(float(value) + moves[k % len(moves)], 4)]
        elif f.type.kind == "enum":
            options = [v.name for v in f.type.values if v.name != value]
        else:
            continue
        for option in options:
            tried = out | {f.name: option}
            moved, errors = schema.validate(tried)
            if not errors and evaluators.cell(moved, date) == cell:
                out = tried
                break
    return out


@settings(max_examples=examples(1500), deadline=None)
@given(st.data())
def test_projects_in_one_cell_are_explained_each_as_its_own(data: st.DataObject) -> None:
    """The compiled evaluator searches counterfactuals per cell (dsl/cell_search.py) and
    keeps what it can by the cell: a project and one in its cell with other values, decided
    one after the other by the same evaluator, each get the interpreter's explanation."""
    evaluators, project_strategy = data.draw(
        st.sampled_from([(seed(), st.deferred(lambda: projects(seed().policies))), *synthetic()])
    )
    project = data.draw(project_strategy)
    date = data.draw(decision_dates(evaluators.policies))
    moves = data.draw(st.lists(st.sampled_from([-7, -1, -0.0001, 0.0001, 0.5, 3, 250]), min_size=1))
    evaluators.assert_agree(project, date)
    evaluators.assert_agree(sibling(evaluators, project, date, moves), date)


def test_siblings_differ_in_value() -> None:
    # Guards the test above: a sibling must often be another project, not the same one.
    evaluators = seed()
    rng = random.Random(5)
    made = [random_project(rng, evaluators.policies) for _ in range(200)]
    moved = [p for p in made if sibling(evaluators, p, None, [0.5, -1, 3]) != p]
    assert len(moved) > 100


def test_seed_explanations_need_no_general_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """No rule of the seed policies tests the region, and no search of theirs nears the
    budget: every counterfactual comes from the cells, none from Search itself."""

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("dsl.counterfactual.Search ran")

    monkeypatch.setattr(dsl.compiled, "Search", refused)
    evaluators = Evaluators(seed().policies)
    rng = random.Random(15)
    for _ in range(300):
        evaluators.assert_agree(random_project(rng, evaluators.policies), None)


# ---- numbers and text the engine cannot take are kept from it ---------------------------------


def test_tiny_amounts_are_rounded_and_huge_ones_refused() -> None:
    """durable-rules cannot read JSON numbers with an exponent (1e-05, 1e+16)."""
    facts, errors = schema().validate({"region": "甘肃省", "investment_wan": 0.00001})
    assert not errors and facts["investment_wan"] == 0.0
    seed().assert_agree(
        {"region": "甘肃省/平凉市", "land_use": "none", "investment_wan": 0.00001}, "2024-01-01"
    )
    _, errors = schema().validate({"region": "甘肃省", "investment_wan": 1e16})
    assert [e.code for e in errors] == ["out_of_range"]


def test_threshold_with_an_exponent_is_a_checker_error() -> None:
    text = (
        '政策 p { 来源 doc 地区 "甘肃省" 施行 2020-01-01 }\n'
        '规则 r 依据 1 "x" 当 项目.投资额 以上 0.5元 则 备案 步骤 市园区办 备案\n'
    )
    _, diags = check_policy(parse(text, "p.zc"), schema(), SOURCE)
    assert [d.code for d in diags] == ["number_out_of_range"]


def test_text_with_a_lone_surrogate_is_evaluated() -> None:
    """Text stays in Python (the engine sees flags only), so durable never meets it."""
    seed().assert_agree(
        {"region": "甘肃省/平凉市", "subject": "park_plan", "park": "\ud800"}, "2024-01-01"
    )
