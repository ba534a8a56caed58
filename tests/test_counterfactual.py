"""What a decision rests on and what would change it (issue 12, parts 2, 3 and 6): fact
sources, the Chinese trace of fired rules, the structured why_not, counterfactuals and the
next question, with both evaluators.

The acceptance test runs over every golden decision (policies/tests cases with `want`): each
counterfactual is verified by deciding the changed project, and a brute force over every
single-fact change at the thresholds (each bound and a step either side, every enum and bool
value, for every field the policies in force test) finds no change the search missed and none
smaller than one it reports. The other tests use a small policy set of their own, so they do
not depend on the seed policies' current state.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from dsl import counterfactual, resolved
from dsl.compile import ReteEngine
from dsl.compiled import CompiledEvaluator
from dsl.counterfactual import Counterfactual, Result, result_of
from dsl.decide import Decision, Evaluator, decide
from dsl.explain_text import Described, describe
from dsl.interpret import Interpreter, atomic_tests
from dsl.load import load_files
from dsl.policytest import load_cases
from dsl.resolved import PolicySet
from dsl.schema import DECIMALS, MAX_NUMBER, FactValue
from dsl.trace import facts_used
from server.service import Service
from tests.conftest import ROOT, MemorySource

POLICY = """
政策 demo { 来源 doc 地区 "甘肃省/平凉市" 施行 2023-01-01 }
参数 备案门槛 = 1000万元
  依据 一 "投资额1000万元以上的非供地项目"
规则 非供地备案 "投资额1000万元以上的非供地项目备案"
  依据 一 "投资额1000万元以上的非供地项目报市园区办备案"
  当 项目.事项类型 是 投资项目 且 项目.用地方式 是 非供地 且 项目.投资额 以上 备案门槛
  则 备案 步骤 市园区办 备案
规则 大项目审批 依据 二 "投资额超过3000万元的项目由市政府审批"
  当 项目.事项类型 是 投资项目 且 项目.投资额 超过 3000万元
  则 审批 步骤 市政府 审批
规则 小项目备案 依据 三 "投资额不足500万元的项目报县政府备案"
  当 项目.事项类型 是 投资项目 且 项目.投资额 不足 500万元
  则 备案 步骤 县政府 备案
规则 规划审批 依据 四 "园区规划由市人民政府审批"
  当 项目.事项类型 是 园区规划
  则 审批 步骤 市人民政府 审批
规则 省级规划备案 依据 四 "省级园区规划报省开发区办备案"
  当 项目.事项类型 是 园区规划 且 项目.园区级别 是 省级
  则 备案 步骤 省开发区办 备案
规则 不予准入 依据 五 "位于保护区或不符合规划的项目不得准入"
  当 项目.位于保护区 或 非 项目.符合规划
  则 禁止
规则 考评奖励 依据 六 "全市考评名次2名以下的园区给予奖励"
  当 项目.事项类型 是 园区年度考评 且 项目.全市考评名次 以下 2
  则 奖励 "给予奖励"
"""
SOURCE = MemorySource(
    {
        "doc": {
            "一": "投资额1000万元以上的非供地项目报市园区办备案。",
            "二": "投资额超过3000万元的项目由市政府审批。",
            "三": "投资额不足500万元的项目报县政府备案。",
            "四": "园区规划由市人民政府审批,省级园区规划报省开发区办备案。",
            "五": "位于保护区或不符合规划的项目不得准入。",
            "六": "全市考评名次2名以下的园区给予奖励。",
        }
    }
)
DAY = "2023-06-01"
BASE = {"region": "甘肃省/平凉市", "conforms_to_plan": True}
STEP = 10**-DECIMALS


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    folder = tmp_path_factory.mktemp("p")
    (folder / "demo.zc").write_text(POLICY, "utf-8")
    schema = ROOT / "policies" / "schema.zc"
    # The rules overlap on purpose (approval and filing of one plan): no conflict analysis.
    result = load_files([schema, folder / "demo.zc"], schema, SOURCE, conflicts=False)
    assert result.policies is not None, result.render()
    return result.policies


ENGINES = {"interpret": Interpreter, "rete": ReteEngine, "compiled": CompiledEvaluator}


@pytest.fixture(scope="module", params=list(ENGINES))
def evaluator(request: pytest.FixtureRequest, policies: PolicySet) -> Evaluator:
    made: Evaluator = ENGINES[request.param](policies)
    return made


def run(policies: PolicySet, evaluator: Evaluator, **facts: Any) -> Decision:
    typed, errors = policies.schema.validate(BASE | facts)
    assert not errors
    return decide(policies, evaluator, typed, DAY)


def texts(d: Decision) -> list[str]:
    return [c.text for c in d.counterfactuals]


# ---- fact sources ---------------------------------------------------------------------------


def test_facts_say_which_values_came_from_a_default(policies: PolicySet) -> None:
    typed, _ = policies.schema.validate({"region": "甘肃省/平凉市", "major": False})
    sources = {f.name: (f.value, f.source) for f in facts_used(typed, policies.schema)}
    assert sources["region"] == ("甘肃省/平凉市", "given")
    assert sources["major"] == (False, "given")  # the default's value, but given
    assert sources["subject"] == ("project", "default")
    assert sources["in_protected_area"] == (False, "default")
    assert "investment_wan" not in sources  # neither given nor defaulted
    # facts built by hand know of no defaults
    assert {f.source for f in facts_used(dict(typed), policies.schema)} == {"given"}


def test_every_decision_lists_its_facts(policies: PolicySet, evaluator: Evaluator) -> None:
    explained = run(policies, evaluator, investment_wan=800)
    typed, _ = policies.schema.validate(BASE | {"investment_wan": 800})
    plain = decide(policies, evaluator, typed, DAY, explain=False)
    assert explained.facts == plain.facts
    assert [f.name for f in plain.facts][:2] == ["region", "subject"]  # the schema's order
    uncovered, _ = policies.schema.validate({"region": "甘肃省/兰州市"})
    d = decide(policies, evaluator, uncovered, DAY)
    assert d.outcome == "not_covered" and d.facts[0].value == "甘肃省/兰州市"
    assert d.counterfactuals == () and d.counterfactuals_complete


# ---- the trace and why_not ---------------------------------------------------------------


def test_trace_of_a_fired_rule(policies: PolicySet, evaluator: Evaluator) -> None:
    d = run(policies, evaluator, land_use="none", investment_wan=1500)
    trace = {t.rule: t for t in d.trace}
    assert set(trace) == {"demo/非供地备案"}  # only fired rules
    conditions = trace["demo/非供地备案"].conditions
    assert [c.text for c in conditions] == [
        "事项类型为投资项目",
        "用地方式为非供地",
        "投资额 1500万元 ≥ 1000万元（以上，含本数）",
    ]
    assert [(c.field, c.op, c.expected, c.actual, c.holds) for c in conditions] == [
        ("subject", "eq", "project", "project", True),
        ("land_use", "eq", "none", "none", True),
        ("investment_wan", "ge", "1000", "1500", True),
    ]
    assert trace["demo/非供地备案"].title == "投资额1000万元以上的非供地项目备案"
    typed, _ = policies.schema.validate(BASE | {"land_use": "none", "investment_wan": 1500})
    plain = decide(policies, evaluator, typed, DAY, explain=False)
    assert plain.trace == () and plain.counterfactuals == ()


@pytest.mark.parametrize(
    ("facts", "rule", "text", "op"),
    [
        (
            {"investment_wan": 3500},
            "demo/大项目审批",
            "投资额 3500万元 > 3000万元（超过，不含本数）",
            "gt",
        ),
        (
            {"investment_wan": 300},
            "demo/小项目备案",
            "投资额 300万元 < 500万元（不足，不含本数）",
            "lt",
        ),
        (
            {"subject": "park_assessment", "city_rank": 2},
            "demo/考评奖励",
            "全市考评名次 2 ≤ 2（以下，含本数）",
            "le",
        ),
    ],
)
def test_counting_words_in_the_trace(
    policies: PolicySet,
    evaluator: Evaluator,
    facts: dict[str, Any],
    rule: str,
    text: str,
    op: str,
) -> None:
    d = run(policies, evaluator, **facts)
    (condition,) = [c for t in d.trace if t.rule == rule for c in t.conditions if c.op == op]
    assert condition.text == text


def test_trace_of_a_disjunction_and_a_negation(policies: PolicySet, evaluator: Evaluator) -> None:
    d = run(policies, evaluator, conforms_to_plan=False)
    (trace,) = [t for t in d.trace if t.rule == "demo/不予准入"]
    assert [(c.op, c.holds, c.text) for c in trace.conditions] == [
        ("true", False, "不位于保护区，须位于保护区"),
        ("false", True, "不符合规划"),
    ]


def test_missing_facts_and_open_bounds_are_said(policies: PolicySet) -> None:
    schema = policies.schema
    at_least = resolved.Test("cmp", "investment_wan", ">=", 1000.0)
    assert describe(at_least, True, {}, schema) == Described(
        "ge", "1000", "", None, "投资额未提供，须 ≥ 1000万元（以上，含本数）"
    )
    # under 非 the complementary bound is what must hold
    assert describe(at_least, False, {"investment_wan": 800.0}, schema).text == (
        "投资额 800万元 < 1000万元（不足，不含本数）"
    )
    assert (
        describe(resolved.Test("bool", "major"), True, {}, schema).text
        == "是否重大项目未提供，须重大项目"
    )
    open_bound = resolved.Test("cmp", "lease_area_m2", ">", param="租赁界限", unspecified=True)
    said = describe(open_bound, True, {"lease_area_m2": 5000.0}, schema)
    assert (said.op, said.expected, said.holds) == ("gt", "", None)
    assert said.text == "租赁面积 5000平方米，须 > 租赁界限（超过，不含本数），而文件未规定租赁界限"


def test_why_not_is_structured_and_in_chinese(policies: PolicySet, evaluator: Evaluator) -> None:
    d = run(policies, evaluator, land_use="new_land", investment_wan=800)
    why = {w.rule: w for w in d.why_not}
    plan = why["demo/规划审批"]
    assert (plan.field, plan.op, plan.expected, plan.actual) == (
        "subject",
        "eq",
        "park_plan",
        "project",
    )
    assert plan.text == "事项类型须为园区规划，实为投资项目"
    assert plan.condition == "项目.事项类型 是 园区规划"  # the drafter's form is kept
    filing = why["demo/非供地备案"]
    assert filing.text == "用地方式须为非供地，实为新增建设用地"
    big = why["demo/大项目审批"]
    assert (big.op, big.expected, big.actual) == ("gt", "3000", 800.0)
    assert big.text == "投资额须 > 3000万元（超过，不含本数），实为 800万元"
    small = why["demo/小项目备案"]
    assert small.text == "投资额须 < 500万元（不足，不含本数），实为 800万元"
    banned = why["demo/不予准入"]
    assert (banned.op, banned.text) == ("true", "不位于保护区，须位于保护区")


# ---- counterfactuals ---------------------------------------------------------------------


def amounts(d: Decision) -> dict[FactValue, Counterfactual]:
    """The single changes of the investment, by the value they set."""
    return {
        c.changes[0].value: c
        for c in d.counterfactuals
        if [x.field for x in c.changes] == ["investment_wan"]
    }


def test_inclusive_bound_is_reached_exactly(policies: PolicySet, evaluator: Evaluator) -> None:
    d = run(policies, evaluator, land_use="none", investment_wan=800)
    assert d.outcome == "none"
    found = amounts(d)
    assert set(found) == {1000, 3000.0001, 499.9999}  # 以上 / 超过 / 不足
    filing = found[1000]
    # two filing paths are among the changes, so each says its path
    assert filing.text == "若投资额 ≥ 1000万元 → 备案路径：市园区办备案（doc 一）"
    assert (filing.outcome, filing.strength) == ("file", "mandatory")
    assert (filing.rules, filing.clauses, filing.steps) == (
        ("demo/非供地备案",),
        ("doc 一",),
        ("市园区办备案",),
    )
    assert found[499.9999].text == "若投资额 < 500万元 → 备案路径：县政府备案（doc 三）"
    approval = found[3000.0001]
    assert (
        approval.text == "若投资额 > 3000万元 → 审批路径：市政府审批 → 市园区办备案（doc 二、一）"
    )
    assert approval.rules == ("demo/大项目审批", "demo/非供地备案")


def test_exclusive_bound_takes_the_smallest_step(policies: PolicySet, evaluator: Evaluator) -> None:
    d = run(policies, evaluator, land_use="none", investment_wan=1500)
    found = amounts(d)
    assert set(found) == {3000.0001, 999.9999, 499.9999}
    assert found[999.9999].text == "若投资额 < 1000万元 → 没有规则给出结论"
    assert found[999.9999].rules == ()  # nothing is brought in
    # the outcome stays a filing: the path is what changes
    assert found[499.9999].text == "若投资额 < 500万元 → 备案路径：县政府备案（doc 三）"


def test_enum_and_bool_changes(policies: PolicySet, evaluator: Evaluator) -> None:
    d = run(policies, evaluator, land_use="new_land", investment_wan=800)
    said = texts(d)
    assert "若事项类型为园区规划 → 审批路径：市人民政府审批（doc 四）" in said
    assert "若不符合规划 → 禁止（doc 五）" in said
    assert "若位于保护区 → 禁止（doc 五）" in said
    # non-land filing needs a second change (the amount): no single change of land use
    assert not [c for c in d.counterfactuals if [x.field for x in c.changes] == ["land_use"]]
    assert "若用地方式为非供地且投资额 ≥ 1000万元 → 备案路径：市园区办备案（doc 一）" in said


def test_two_changes_where_one_enables_the_other(policies: PolicySet, evaluator: Evaluator) -> None:
    """The provincial filing needs a plan and a provincial park: the level alone changes
    nothing, the plan alone gives the approval path without the filing."""
    d = run(policies, evaluator, park_level="municipal", investment_wan=800)
    (pair,) = [c for c in d.counterfactuals if "park_level" in {x.field for x in c.changes}]
    assert [(c.field, c.value) for c in pair.changes] == [
        ("subject", "park_plan"),
        ("park_level", "provincial"),
    ]
    path = "审批路径：市人民政府审批 → 省开发区办备案"
    assert pair.text == f"若事项类型为园区规划且园区级别为省级 → {path}（doc 四）"
    assert pair.rules == ("demo/规划审批", "demo/省级规划备案")
    assert pair.clauses == ("doc 四",)


def test_two_changes_where_no_single_change_exists(
    policies: PolicySet, evaluator: Evaluator
) -> None:
    """A prohibition with two grounds: lifting it takes both."""
    d = run(policies, evaluator, in_protected_area=True, conforms_to_plan=False, investment_wan=800)
    assert d.outcome == "prohibit"
    assert texts(d) == ["若符合规划且不位于保护区 → 没有规则给出结论"]


def test_changes_for_an_undetermined_decision(policies: PolicySet, evaluator: Evaluator) -> None:
    """A missing amount: each result once, at the smallest amount that gives it."""
    d = run(policies, evaluator, land_use="none")
    assert d.outcome == "undetermined"
    assert [(v, c.text) for v, c in amounts(d).items()] == [
        (499.9999, "若投资额 < 500万元 → 备案路径：县政府备案（doc 三）"),
        (500, "若投资额 ≥ 500万元 → 没有规则给出结论"),
        (1000, "若投资额 ≥ 1000万元 → 备案路径：市园区办备案（doc 一）"),
        (3000.0001, "若投资额 > 3000万元 → 审批路径：市政府审批 → 市园区办备案（doc 二、一）"),
    ]


def test_the_budget_is_reported_when_it_runs_out(
    policies: PolicySet, evaluator: Evaluator, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = run(policies, evaluator, land_use="new_land", investment_wan=800)
    assert full.counterfactuals_complete
    monkeypatch.setattr(counterfactual, "MAX_EVALUATIONS", 20)
    # A fresh evaluator: the compiled one would answer from the explanation it kept.
    cut = run(policies, type(evaluator)(policies), land_use="new_land", investment_wan=800)
    assert not cut.counterfactuals_complete
    assert 0 < len(cut.counterfactuals) < len(full.counterfactuals)

    def changes(d: Decision) -> set[object]:
        return {(c.changes, c.outcome, c.steps) for c in d.counterfactuals}

    assert changes(cut) <= changes(full)


def test_engines_give_the_same_explanation(policies: PolicySet) -> None:
    interp, rete = Interpreter(policies), ReteEngine(policies)
    for facts in (
        {"land_use": "none", "investment_wan": 800},
        {"land_use": "none"},
        {"in_protected_area": True, "conforms_to_plan": False},
        {"subject": "park_plan"},
    ):
        typed, _ = policies.schema.validate(BASE | facts)
        assert decide(policies, interp, typed, DAY) == decide(policies, rete, typed, DAY)


# ---- the next question -------------------------------------------------------------------


def test_next_questions_rank_missing_facts(policies: PolicySet, evaluator: Evaluator) -> None:
    """The amount settles the large and the small project rule whatever it is; the plan
    settles the prohibition; the land use settles nothing alone (with 非供地 the filing still
    waits on the amount)."""
    typed, _ = policies.schema.validate({"region": "甘肃省/平凉市"})
    d = decide(policies, evaluator, typed, DAY, explain=False)
    assert d.outcome == "undetermined"
    assert d.missing_facts == ("land_use", "investment_wan", "conforms_to_plan")
    assert [(q.field, q.label, q.settles) for q in d.next_questions] == [
        ("investment_wan", "投资额", 2),
        ("conforms_to_plan", "符合规划", 1),
        ("land_use", "用地方式", 0),
    ]
    assert run(policies, evaluator, land_use="none", investment_wan=800).next_questions == ()


# ---- acceptance over the golden decisions ------------------------------------------------

CASE_FILES = sorted((ROOT / "policies" / "tests").glob("*.yaml"))
GOLDEN = [(f, i, c) for f in CASE_FILES for i, c in enumerate(load_cases(f), 1) if "want" in c]


def _id(case: tuple[Path, int, dict[str, Any]]) -> str:
    return f"{case[0].stem}-{case[1]:02d}"


def single_changes(
    policies: PolicySet, d: Decision, facts: Mapping[str, FactValue]
) -> list[tuple[str, FactValue]]:
    """Every single-fact change at the thresholds: for each field the policies in force test,
    each bound and a step either side, every enum value and both bools."""
    tests = [
        t for pid in d.policies for r in policies.policy(pid).rules for t in atomic_tests(r.cond)
    ]  # type: ignore[union-attr]
    changes: dict[tuple[str, FactValue], None] = {}
    for t in tests:
        f = policies.schema.field(t.field)
        assert f is not None
        if f.type.kind == "number" and not t.unspecified:
            values: list[FactValue] = [round(t.value + k * STEP, DECIMALS) for k in (-1, 0, 1)]
            values = [v for v in values if 0 <= float(v) < MAX_NUMBER]
        elif f.type.kind == "enum":
            values = [v.name for v in f.type.values]
        elif f.type.kind == "bool":
            values = [True, False]
        else:
            continue
        changes |= {(t.field, v): None for v in values if facts.get(t.field) != v}
    return list(changes)


def check_counterfactuals(
    policies: PolicySet, evaluator: Evaluator, facts: Mapping[str, FactValue], day: str | None
) -> Decision:
    d = decide(policies, evaluator, facts, day)
    base = result_of(d)

    def after(changes: Mapping[str, FactValue]) -> Result:
        return result_of(decide(policies, evaluator, {**facts, **changes}, d.date, explain=False))

    for cf in d.counterfactuals:  # each verified: the changed project gives what it says
        got = after({c.field: c.value for c in cf.changes})
        assert got != base, cf.text
        assert got[:2] == (cf.outcome, cf.strength), cf.text
        assert cf.steps == tuple(a + b for a, b in got[2]), cf.text
    singles: dict[tuple[str, FactValue], Result] = {
        change: after(dict([change])) for change in single_changes(policies, d, facts)
    }
    reported: dict[str, list[Counterfactual]] = {}
    for cf in d.counterfactuals:
        if len(cf.changes) == 1:
            reported.setdefault(cf.changes[0].field, []).append(cf)
    for (field, value), result in singles.items():
        if result == base:
            continue
        same = [c for c in reported.get(field, []) if (c.outcome, c.strength) == result[:2]]
        same = [c for c in same if after({field: c.changes[0].value}) == result]
        assert same, f"missed: {field} = {value} gives {result}"
        current = facts.get(field)
        if isinstance(value, float):  # none of the search's is further than this change
            near = min(_distance(c.changes[0].value, current) for c in same)
            assert near <= _distance(value, current), f"{field} = {value} is nearer"
        else:
            assert value in {c.changes[0].value for c in same}, f"{field} = {value}"
    for field, cfs in reported.items():  # and no single change is smaller than one reported
        for cf in cfs:
            value = cf.changes[0].value
            result = (cf.outcome, cf.strength, after({field: value})[2])
            for (f, v), r in singles.items():
                if f == field and r == result and isinstance(v, float):
                    assert _distance(v, facts.get(field)) >= _distance(value, facts.get(field))
    for cf in d.counterfactuals:  # a pair only where no single change gives its result
        if len(cf.changes) == 2:
            result = after({c.field: c.value for c in cf.changes})
            assert result not in singles.values(), cf.text
    assert d.counterfactuals_complete
    return d


def _distance(value: FactValue, current: FactValue | None) -> float:
    """How far a number moves; from a missing value, its size (the search takes the smallest)."""
    return abs(float(value) - float(current)) if current is not None else float(value)


@pytest.mark.parametrize("case", GOLDEN, ids=_id)
def test_golden_counterfactuals_are_verified_and_smallest(
    service: Service, case: tuple[Path, int, dict[str, Any]]
) -> None:
    _, _, body = case
    facts, errors = service.policies.schema.validate(body["input"])
    assert not errors
    day = str(body["date"]) if body.get("date") else None
    decisions = [
        check_counterfactuals(service.policies, service.engine(name), facts, day)
        for name in ("interpret", "rete")
    ]
    assert decisions[0] == decisions[1]


def test_seed_texts(service: Service) -> None:
    """A few of the seeds' sentences, as a reviewer reads them."""
    typed, _ = service.policies.schema.validate(
        {"region": "甘肃省/平凉市", "land_use": "none", "investment_wan": 800}
    )
    d = decide(service.policies, service.engine("rete"), typed, "2024-01-01")
    assert "若投资额 ≥ 1000万元 → 备案（pingliang-2023 二.4）" in texts(d)
    assert any(w.text == "事项类型须为园区规划，实为投资项目" for w in d.why_not)
