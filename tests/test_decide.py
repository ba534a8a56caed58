"""How decisions combine rules, on a small policy: prohibitions win, open parameters and
missing facts are reported and never guessed, and both evaluators agree."""

from __future__ import annotations

import pytest

from dsl.compile import ReteEngine
from dsl.decide import Evaluator, decide
from dsl.interpret import Interpreter
from dsl.load import load_files
from dsl.resolved import PolicySet
from dsl.vocabulary import Outcome
from tests.conftest import ROOT, MemorySource

POLICY = """
政策 demo { 来源 doc 地区 "上海市/嘉定区" 施行 2017-01-01 至 2019-12-31 试行 }
参数 租赁界限 = 未规定 平方米
  依据 一 "租赁面积较大的"
规则 大面积租赁 依据 一 "租赁面积较大的,区经委会审"
  当 项目.用地方式 是 租赁存量厂房楼宇 且 项目.租赁面积 超过 租赁界限
  则 审批 步骤 区经委 会审
规则 小面积租赁 依据 一 "镇审核"
  当 项目.用地方式 是 租赁存量厂房楼宇 且 项目.租赁面积 以下 租赁界限
  则 审批 步骤 镇 审核
规则 不符合规划 依据 二 "不符合规划的项目不得准入"
  当 非 项目.符合规划
  则 禁止 步骤 区产业促进工作领导小组 否决
规则 重大项目 依据 三 "重大项目签订三方责任书"
  当 项目.重大项目
  则 义务 "签订三方责任书"
"""
SOURCE = MemorySource(
    {
        "doc": {
            "一": "租赁面积较大的,区经委会审;其余镇审核。",
            "二": "不符合规划的项目不得准入。",
            "三": "重大项目签订三方责任书。",
        }
    }
)


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    folder = tmp_path_factory.mktemp("p")
    (folder / "demo.zc").write_text(POLICY, "utf-8")
    schema = ROOT / "policies" / "schema.zc"
    result = load_files([schema, folder / "demo.zc"], schema, SOURCE)
    assert result.policies is not None, result.render()
    return result.policies


@pytest.fixture(scope="module", params=["interpret", "rete"])
def evaluator(request: pytest.FixtureRequest, policies: PolicySet) -> Evaluator:
    return Interpreter(policies) if request.param == "interpret" else ReteEngine(policies)


BASE = {"region": "上海市/嘉定区/安亭镇", "conforms_to_plan": True}


def run(policies: PolicySet, evaluator: Evaluator, date: str = "2018-06-01", **facts: object):  # type: ignore[no-untyped-def]
    typed, errors = policies.schema.validate(BASE | facts)
    assert not errors
    return decide(policies, evaluator, typed, date)


def test_prohibition_wins(policies: PolicySet, evaluator: Evaluator) -> None:
    d = run(policies, evaluator, conforms_to_plan=False, major=True)
    assert d.outcome == "prohibit"
    assert [(s.authority, s.action) for s in d.steps] == [("区产业促进工作领导小组", "否决")]
    assert d.obligations == ("签订三方责任书",)  # duties still collected


def test_unspecified_parameter_names_both_paths(policies: PolicySet, evaluator: Evaluator) -> None:
    d = run(policies, evaluator, land_use="lease", lease_area_m2=5000)
    assert d.outcome == "approve" and d.steps == ()
    assert sorted(u.rule for u in d.undetermined) == ["demo/大面积租赁", "demo/小面积租赁"]
    assert all(u.unspecified_parameters == ("租赁界限",) for u in d.undetermined)
    assert [p.unspecified for p in d.parameters] == [True]
    assert any("租赁界限" in n for n in d.notes)


def test_missing_fact_is_not_guessed(policies: PolicySet, evaluator: Evaluator) -> None:
    typed, _ = policies.schema.validate({"region": "上海市/嘉定区", "land_use": "new_land"})
    d = decide(policies, evaluator, typed, "2018-06-01")
    assert d.outcome == "undetermined"
    assert d.missing_facts == ("conforms_to_plan",)
    assert "符合规划(conforms_to_plan)" in d.reason
    assert [u.rule for u in d.undetermined] == ["demo/不符合规划"]
    assert d.undetermined[0].missing_facts == ("conforms_to_plan",)


@pytest.mark.parametrize(
    ("date", "region", "applies"),
    [
        ("2016-12-31", "上海市/嘉定区", False),
        ("2017-01-01", "上海市/嘉定区", True),
        ("2019-12-31", "上海市/嘉定区/嘉定工业区", True),
        ("2020-01-01", "上海市/嘉定区", False),
        ("2018-01-01", "上海市/嘉定", False),  # a prefix of the name is not a sub-region
        ("2018-01-01", "上海市", False),  # the parent region is larger than the policy's
    ],
)
def test_region_and_period(
    policies: PolicySet, evaluator: Evaluator, date: str, region: str, applies: bool
) -> None:
    typed, _ = policies.schema.validate({"region": region, "conforms_to_plan": False})
    d = decide(policies, evaluator, typed, date)
    assert (d.outcome == "prohibit") is applies
    assert (d.policies == ("demo",)) is applies


def test_trial_status_is_noted(policies: PolicySet, evaluator: Evaluator) -> None:
    d = run(policies, evaluator, conforms_to_plan=False)
    assert any("试行" in n for n in d.notes)


def test_explain_lists_the_failing_condition(policies: PolicySet, evaluator: Evaluator) -> None:
    d = run(policies, evaluator, land_use="new_land", lease_area_m2=10)
    why = {w.rule: w for w in d.why_not}
    assert why["demo/大面积租赁"].condition == "项目.用地方式 是 租赁存量厂房楼宇"
    assert why["demo/大面积租赁"].actual == "new_land"
    assert why["demo/不符合规划"].condition == "非 项目.符合规划"


def test_duty_rule_keeps_the_open_parameter_outcome(
    policies: PolicySet, evaluator: Evaluator
) -> None:
    """A major lease project: the duty rule fires, and the path still depends on the open
    lease boundary (found by the jiading drafter: the outcome used to drop to none)."""
    d = run(policies, evaluator, land_use="lease", lease_area_m2=5000, major=True)
    assert d.outcome == "approve"
    assert d.obligations == ("签订三方责任书",)
    assert any("租赁界限" in n for n in d.notes)


def test_missing_fact_behind_an_open_parameter_is_named(
    policies: PolicySet, evaluator: Evaluator
) -> None:
    d = run(policies, evaluator, land_use="lease")
    # whatever the area and the boundary, one of the two lease paths applies: approve
    assert d.outcome == "approve" and d.steps == ()
    assert {u.missing_facts for u in d.undetermined} == {("lease_area_m2",)}
    assert {u.unspecified_parameters for u in d.undetermined} == {("租赁界限",)}


def test_outcome_is_undetermined_when_the_candidates_may_all_fail(
    policies: PolicySet, evaluator: Evaluator
) -> None:
    """Land use unknown: the lease rules might both not apply, so nothing settles it; never a
    silent none."""
    typed, _ = policies.schema.validate({"region": "上海市/嘉定区", "conforms_to_plan": True})
    d = decide(policies, evaluator, typed, "2018-06-01")
    assert d.outcome == "undetermined"
    assert d.missing_facts == ("land_use", "lease_area_m2")
    assert "租赁界限" in d.reason  # the open parameter is named too
    assert {u.rule for u in d.undetermined} == {"demo/大面积租赁", "demo/小面积租赁"}


def test_citations_name_the_document_of_the_rule_and_its_parameters(
    policies: PolicySet, evaluator: Evaluator
) -> None:
    d = run(policies, evaluator, land_use="lease", lease_area_m2=5000)
    assert d.outcome is Outcome.APPROVE
    assert {(c.policy, c.document, c.clause, c.quote) for c in d.citations} == {
        ("demo", "doc", "一", "租赁面积较大的,区经委会审"),
        ("demo", "doc", "一", "镇审核"),
        ("demo", "doc", "一", "租赁面积较大的"),  # the open parameter's own citation
    }
