"""How strength, declared precedence and coverage shape a decision, with both evaluators: a
presumptive prohibition stands beside the path, a mandatory one overrides it, exceptions and
priorities name what they displace, and a project no policy covers is never a silent none."""

from __future__ import annotations

from typing import Any

import pytest

from dsl.compile import ReteEngine
from dsl.decide import Decision, Evaluator, decide
from dsl.interpret import Interpreter
from dsl.load import load_files
from dsl.resolved import PolicySet
from dsl.routing import find_route
from dsl.vocabulary import Code
from tests.conftest import ROOT, MemorySource

STRONG = """
政策 strong { 来源 doc 地区 "甘肃省/平凉市" 施行 2023-08-02 }
规则 审批路径 依据 一 "由市园区办审批"
  当 项目.事项类型 是 投资项目
  则 审批 步骤 市园区办 审批
规则 原则上不准入 依据 二 "一事一议项目原则上不予准入"
  当 项目.事项类型 是 投资项目 且 项目.一事一议
  则 原则上 禁止 例外途径 "市政府常务会"
规则 不得准入 依据 三 "不符合规划的不得准入"
  当 非 项目.符合规划
  则 禁止
规则 依法取缔 依据 四 "依法取缔保护区内项目"
  当 项目.位于保护区
  则 依法 禁止
规则 特别审批 依据 五 "重大项目由市政府审批"
  例外 原则上不准入 依据 五 "不受前款限制"
  当 项目.事项类型 是 投资项目 且 项目.重大项目 且 项目.一事一议
  则 审批 步骤 市政府 审批
分工 搬迁方案 依据 六 "由区经信局制订方案,属地街道和相关部门配合"
  事项 "搬迁方案"
  牵头 "区经信局"
  协助 "属地街道和相关部门" 即 属地街道, 相关部门
"""
LATER = """
政策 later { 来源 doc 地区 "甘肃省/平凉市" 施行 2024-01-01 }
规则 新规定 依据 七 "非供地项目报县政府备案"
  优先于 strong 依据 七 "以本规定为准"
  当 项目.事项类型 是 投资项目 且 项目.用地方式 是 非供地
  则 备案 步骤 县政府 备案
"""
SOURCE = MemorySource(
    {
        "doc": {
            "一": "投资项目由市园区办审批。",
            "二": "一事一议项目原则上不予准入,确需准入的报市政府常务会审定。",
            "三": "不符合规划的不得准入。",
            "四": "依法取缔保护区内项目。",
            "五": "重大项目由市政府审批,不受前款限制。",
            "六": "由区经信局制订方案,属地街道和相关部门配合。",
            "七": "非供地项目报县政府备案;此前规定与本规定不一致的,以本规定为准。",
        }
    }
)
BASE = {"region": "甘肃省/平凉市", "conforms_to_plan": True}


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    folder = tmp_path_factory.mktemp("p")
    (folder / "strong.zc").write_text(STRONG, "utf-8")
    (folder / "later.zc").write_text(LATER, "utf-8")
    schema = ROOT / "policies" / "schema.zc"
    files = [schema, folder / "strong.zc", folder / "later.zc"]
    # The set meets every case on purpose, so its path, its presumptive and by-law prohibitions
    # and its special path are unresolved conflicts, which `zhengce check` refuses
    # (unresolved_conflict); the decisions are tested on the set loaded without that check.
    strict = load_files(files, schema, SOURCE)
    assert strict.policies is None
    assert {d.code for d in strict.diagnostics} == {Code.UNRESOLVED_CONFLICT}
    result = load_files(files, schema, SOURCE, conflicts=False)
    assert result.policies is not None, result.render()
    assert result.diagnostics == ()
    return result.policies


@pytest.fixture(scope="module", params=["interpret", "rete"])
def evaluator(request: pytest.FixtureRequest, policies: PolicySet) -> Evaluator:
    return Interpreter(policies) if request.param == "interpret" else ReteEngine(policies)


def run(
    policies: PolicySet, evaluator: Evaluator, date: str = "2023-09-01", **facts: Any
) -> Decision:
    typed, errors = policies.schema.validate(BASE | facts)
    assert not errors
    return decide(policies, evaluator, typed, date)


def steps(d: Decision) -> list[tuple[str, str]]:
    return [(s.authority, s.action) for s in d.steps]


def test_presumptive_prohibition_stands_beside_the_path(
    policies: PolicySet, evaluator: Evaluator
) -> None:
    d = run(policies, evaluator, one_matter_one_discussion=True)
    assert (d.outcome, d.strength) == ("prohibit", "presumptive")
    assert d.decided_by == "strong/原则上不准入"
    assert steps(d) == [("市园区办", "审批")]  # the path is kept for the exception
    assert d.overridden == ()
    assert d.qualifiers == ("原则上",)
    assert d.exception_routes == ("市政府常务会",)
    assert "原则上禁止" in d.reason and "市政府常务会" in d.reason
    assert any("原则上禁止，可例外" in n for n in d.notes)


def test_mandatory_prohibition_overrides_the_path(
    policies: PolicySet, evaluator: Evaluator
) -> None:
    d = run(policies, evaluator, conforms_to_plan=False)
    assert (d.outcome, d.strength, d.decided_by) == ("prohibit", "mandatory", "strong/不得准入")
    assert steps(d) == []
    assert [(o.rule, o.by) for o in d.overridden] == [("strong/审批路径", "strong/不得准入")]
    assert "强制性禁止优先于审批或备案路径" in d.overridden[0].reason
    assert d.qualifiers == () and d.exception_routes == ()


def test_mandatory_prohibition_wins_over_a_presumptive_one(
    policies: PolicySet, evaluator: Evaluator
) -> None:
    d = run(policies, evaluator, conforms_to_plan=False, one_matter_one_discussion=True)
    assert (d.outcome, d.strength, d.decided_by) == ("prohibit", "mandatory", "strong/不得准入")
    assert [o.rule for o in d.overridden] == ["strong/审批路径"]


def test_by_law_prohibition_says_it_rests_on_other_law(
    policies: PolicySet, evaluator: Evaluator
) -> None:
    d = run(policies, evaluator, in_protected_area=True)
    assert (d.outcome, d.strength, d.decided_by) == ("prohibit", "by_law", "strong/依法取缔")
    assert d.qualifiers == ("依法",)
    assert "依法禁止" in d.reason and "其他法律法规" in d.reason
    assert [o.rule for o in d.overridden] == ["strong/审批路径"]


def test_declared_exception_displaces_the_general_rule(
    policies: PolicySet, evaluator: Evaluator
) -> None:
    d = run(policies, evaluator, major=True, one_matter_one_discussion=True)
    assert (d.outcome, d.strength) == ("approve", "mandatory")
    assert d.decided_by == "strong/审批路径"
    assert steps(d) == [("市园区办", "审批"), ("市政府", "审批")]
    [o] = d.overridden
    assert (o.rule, o.by) == ("strong/原则上不准入", "strong/特别审批")
    assert "是其例外" in o.reason and "strong:五" in o.reason
    # the precedence's own clause is cited
    assert ("strong", "五", "不受前款限制") in {(c.policy, c.clause, c.quote) for c in d.citations}
    assert {r.id for r in d.rules} >= {"strong/原则上不准入", "strong/特别审批"}


def test_later_policy_declared_to_prevail_over_an_earlier_one(
    policies: PolicySet, evaluator: Evaluator
) -> None:
    d = run(policies, evaluator, "2024-06-01", land_use="none")
    assert (d.outcome, d.decided_by) == ("file", "later/新规定")
    assert steps(d) == [("县政府", "备案")]
    [o] = d.overridden
    assert (o.rule, o.by) == ("strong/审批路径", "later/新规定")
    assert "优先于" in o.reason
    # before the later policy is in force, the earlier one decides as before
    d = run(policies, evaluator, "2023-09-01", land_use="none")
    assert (d.outcome, d.decided_by, d.overridden) == ("approve", "strong/审批路径", ())


@pytest.mark.parametrize(
    ("region", "date", "reason"),
    [
        ("甘肃省/兰州市", "2024-01-01", "本系统未覆盖该地区（甘肃省/兰州市）"),
        ("上海市", "2024-01-01", "本系统未覆盖该地区（上海市）"),
        ("甘肃省", "2024-01-01", "本系统只覆盖其下的 甘肃省/平凉市"),
        ("甘肃省/平凉市", "2023-08-01", "strong 自2023-08-02施行；later 自2024-01-01施行"),
    ],
)
def test_not_covered_says_why(
    policies: PolicySet, evaluator: Evaluator, region: str, date: str, reason: str
) -> None:
    d = run(policies, evaluator, date, region=region, conforms_to_plan=False)
    assert d.outcome == "not_covered"
    assert reason in d.reason
    assert d.policies == () and d.steps == () and d.rules == () and d.decided_by is None


def test_undetermined_lists_the_missing_facts(policies: PolicySet, evaluator: Evaluator) -> None:
    typed, _ = policies.schema.validate({"region": "甘肃省/平凉市", "subject": "park_plan"})
    d = decide(policies, evaluator, typed, "2023-09-01")
    assert d.outcome == "undetermined"
    assert d.missing_facts == ("conforms_to_plan",)
    assert d.decided_by is None
    assert [u.rule for u in d.undetermined] == ["strong/不得准入"]


def test_none_only_when_every_needed_fact_is_known(
    policies: PolicySet, evaluator: Evaluator
) -> None:
    d = run(policies, evaluator, subject="park_plan")
    assert (d.outcome, d.strength, d.decided_by) == ("none", "mandatory", None)
    assert d.missing_facts == () and d.undetermined == ()
    assert "没有规则" in d.reason


def test_decision_json_has_the_new_fields_last(policies: PolicySet, evaluator: Evaluator) -> None:
    body = run(policies, evaluator, conforms_to_plan=False).to_json()
    assert list(body)[-12:] == [
        "strength",
        "decided_by",
        "overridden",
        "reason",
        "missing_facts",
        "exception_routes",
        "qualifiers",
        "facts",
        "trace",
        "counterfactuals",
        "counterfactuals_complete",
        "next_questions",
    ]
    assert body["overridden"][0] == {
        "rule": "strong/审批路径",
        "by": "strong/不得准入",
        "reason": body["overridden"][0]["reason"],
    }


def test_route_answer_names_the_assisting_units(policies: PolicySet) -> None:
    found = find_route(policies, "搬迁方案", "甘肃省/平凉市", "2024-01-01")
    assert found is not None
    assert (found.lead, found.responsible, found.assisting) == (
        ("区经信局",),
        (),
        ("属地街道", "相关部门"),
    )
    assert found.assisting_original == "属地街道和相关部门"
    assert list(found.to_json()["assisting"]) == ["属地街道", "相关部门"]
