"""Conflict and gap analysis: every kind of finding on the fixture set that plants one
(tests/fixtures/conflicts), a declared priority resolving the conflict, counterexamples the
evaluator confirms, the reasoning at its boundaries, and `zhengce analyze` (exit codes, JSON).

An unresolved conflict is also a check error (`unresolved_conflict`, dsl.load): the fixture set
is refused by `zhengce check` and by the server, so the analysis tests load it with
`conflicts=False`, the loader's every other check still made."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from dsl import resolved
from dsl.analyze import Analysis, Kind, analyze, conflict_issues
from dsl.analyze_logic import Interval, Lit, dnf, solve
from dsl.check import check_policy, check_schema
from dsl.decide import decide
from dsl.interpret import Interpreter
from dsl.load import load_folder
from dsl.parser import parse
from dsl.resolved import PolicySet
from dsl.vocabulary import Code
from kb.corpus import Corpus
from server.cli_analyze import analyze_command
from server.cli_common import Context
from server.config import Settings
from server.service import Service
from tests.conftest import ROOT, MemorySource

FIXTURE = ROOT / "tests" / "fixtures" / "conflicts"

# What the fixture plants: (kind, rules), each found exactly once.
PLANTED = {
    (Kind.CONFLICT, ("fx-city/园区规划审批", "fx-county/园区规划备案")),
    (Kind.RESOLVED, ("fx-city/重大事项审定", "fx-county/重大事项备案")),
    (Kind.PREVAILS, ("fx-city/新增用地工业项目审核", "fx-county/不符合规划不予准入")),
    (Kind.PREVAILS, ("fx-county/新增用地工业项目审核", "fx-county/不符合规划不予准入")),
    (Kind.PREVAILS, ("fx-county/保护区服务业项目审批", "fx-county/保护区服务业项目禁止")),
    (Kind.UNREACHABLE, ("fx-city/矛盾门槛",)),
    (Kind.THRESHOLD_GAP, ("fx-city/非供地大项目备案", "fx-county/非供地小项目备案")),
    (
        Kind.THRESHOLD_OVERLAP,
        ("fx-city/新增用地工业项目审核", "fx-county/新增用地工业项目审核"),
    ),
    (Kind.SILENCED, ("fx-county/保护区服务业项目审批", "fx-county/保护区服务业项目禁止")),
}


def load(root: Path, *, conflicts: bool = True) -> PolicySet:
    """The set under `root` as the server loads it; with `conflicts=False`, without the final
    conflict check (every other check is made), so that a set with a conflict can be analysed."""
    if conflicts:
        return Service.load(Settings.from_env({}, root=root)).policies
    loaded = load_folder(root / "policies", Corpus(root), conflicts=False)
    assert loaded.policies is not None, loaded.render()
    return loaded.policies


@pytest.fixture(scope="module")
def fixture_set() -> PolicySet:
    return load(FIXTURE, conflicts=False)


@pytest.fixture(scope="module")
def found(fixture_set: PolicySet) -> Analysis:
    return analyze(fixture_set)


def test_every_planted_finding_is_found_and_nothing_else(found: Analysis) -> None:
    assert sorted((f.kind, f.rules) for f in found.findings) == sorted(PLANTED)
    assert {k for k, _ in PLANTED} == set(Kind)
    assert found.counts() == {
        "conflict": 1,
        "resolved": 1,
        "prevails": 3,
        "unreachable": 1,
        "threshold_gap": 1,
        "threshold_overlap": 1,
        "silenced": 1,
    }
    assert found.findings[0].kind == Kind.CONFLICT  # the errors come first


def test_the_gap_and_the_overlap_name_their_ranges(found: Analysis) -> None:
    (gap,) = found.of_kind(Kind.THRESHOLD_GAP)
    assert "[500, 1000) 万元" in gap.message
    (overlap,) = found.of_kind(Kind.THRESHOLD_OVERLAP)
    assert "[3000, ∞) 万元" in overlap.message
    (unreachable,) = found.of_kind(Kind.UNREACHABLE)
    assert ">= 100 and < 50" in unreachable.message


def test_counterexamples_are_real_decisions(fixture_set: PolicySet, found: Analysis) -> None:
    """Each project the analysis prints, decided afresh: the rules of a pair all fire, and a
    gap's project is decided by no rule with an outcome."""
    for f in found.findings:
        example = f.counterexample
        if f.kind == Kind.UNREACHABLE:
            assert example is None
            continue
        assert example is not None, f
        facts, errors = fixture_set.schema.validate(dict(example.project))
        assert not errors
        decision = decide(fixture_set, Interpreter(fixture_set), facts, example.date)
        fired = {r.id for r in decision.rules}
        assert str(decision.outcome) == example.outcome
        if f.kind == Kind.THRESHOLD_GAP:
            assert not fired & set(f.rules) and decision.outcome == "none"
        elif f.kind == Kind.SILENCED:
            assert set(f.rules) <= fired and decision.outcome == "prohibit"
        else:
            assert set(f.rules) <= fired, f


def test_the_conflict_is_an_issue_for_the_checker(found: Analysis) -> None:
    (issue,) = conflict_issues(found)
    assert issue.span.path.endswith("fx-city.zc") and issue.span.line == 14
    assert "no priority is declared" in issue.message
    assert "优先于" in issue.hint


def test_check_refuses_a_set_with_an_unresolved_conflict() -> None:
    """The checker's loader reports the conflict as an error, at the first rule's name, with
    the counterexample project; the set is refused, as `zhengce check` and the server see it."""
    loaded = load_folder(FIXTURE / "policies", Corpus(FIXTURE))
    assert loaded.policies is None
    (error,) = loaded.errors
    assert error.code == Code.UNRESOLVED_CONFLICT and error.is_error
    assert error.span.path.endswith("fx-city.zc") and error.span.line == 14
    assert "fx-city/园区规划审批" in error.message and "fx-county/园区规划备案" in error.message
    assert (
        '{"subject": "park_plan", "region": "测试省/甲市/乙县"} on 2021-01-01' in error.message_en
    )
    assert "优先于" in error.hint
    assert "unresolved_conflict" in loaded.render()
    # every other finding (warnings, infos) leaves the set loadable: only the conflict is refused
    assert [d.code for d in loaded.diagnostics] == [Code.UNRESOLVED_CONFLICT]


def test_the_conflict_check_comes_after_every_other_check(tmp_path: Path) -> None:
    """A set with another error is reported with that error alone: conflicts are only looked
    for in a set that otherwise loads."""
    root = tmp_path / "project"
    shutil.copytree(FIXTURE, root)
    path = root / "policies" / "fx-city.zc"
    path.write_text(path.read_text("utf-8").replace("项目.事项类型", "项目.未知字段", 1), "utf-8")
    loaded = load_folder(root / "policies", Corpus(root))
    assert loaded.policies is None
    codes = {d.code for d in loaded.errors}
    assert Code.UNKNOWN_FIELD in codes and Code.UNRESOLVED_CONFLICT not in codes


# ---- declaring a priority resolves the conflict ---------------------------------------------

DECLARATIONS = [
    # (file, the rule's cite line after which the declaration goes, the declaration)
    (
        "fx-county.zc",
        '  依据 一 "园区规划报县政府备案"\n',
        '  优先于 fx-city/园区规划审批 依据 一 "不再报市政府审批"\n',
    ),
    (
        "fx-county.zc",
        '  依据 一 "园区规划报县政府备案"\n',
        '  例外 fx-city 依据 一 "不再报市政府审批"\n',
    ),
    (
        "fx-city.zc",
        '  依据 一 "园区规划由市政府审批"\n',
        '  优先于 fx-county/园区规划备案 依据 一 "园区规划由市政府审批"\n',
    ),
]


@pytest.mark.parametrize(("file", "after", "declaration"), DECLARATIONS)
def test_a_declared_priority_resolves_the_conflict(
    tmp_path: Path, file: str, after: str, declaration: str
) -> None:
    root = declared(tmp_path, file, after, declaration)
    result = analyze(load(root))
    assert not result.conflicts
    pair = ("fx-city/园区规划审批", "fx-county/园区规划备案")
    (resolved,) = [f for f in result.of_kind(Kind.RESOLVED) if f.rules == pair]
    assert "as declared" in resolved.message
    assert declaration.split('"')[1] in [c.quote for c in resolved.citations]
    assert invoke(root).exit_code == 0


def declared(tmp_path: Path, file: str, after: str, declaration: str) -> Path:
    root = tmp_path / "project"
    shutil.copytree(FIXTURE, root)
    path = root / "policies" / file
    text = path.read_text("utf-8")
    assert after in text
    path.write_text(text.replace(after, after + declaration, 1), "utf-8")
    return root


# ---- the command ----------------------------------------------------------------------------


def invoke(root: Path, *args: str) -> Result:
    """`zhengce analyze` on the set under `root`, as the command line loads it."""
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        pass

    app.command("analyze")(analyze_command)
    return CliRunner().invoke(
        app, ["analyze", *args], obj=Context(Settings.from_env({}, root=root))
    )


def test_the_command_lists_a_conflict_the_checker_refuses() -> None:
    """The checker refuses a set with an unresolved conflict; `analyze` still loads it, to
    show the conflict with its counterexample, and exits 1."""
    result = invoke(FIXTURE)
    assert result.exit_code == 1
    assert "conflict (error): fx-city/园区规划审批" in result.output


def test_the_command_exits_1_on_a_conflict_and_prints_each_finding() -> None:
    result = invoke(FIXTURE)
    assert result.exit_code == 1, result.output
    out = result.output
    assert "conflict (error): fx-city/园区规划审批 × fx-county/园区规划备案" in out
    assert '依据 fx-city 一 "园区规划由市政府审批"' in out
    assert '(decided: approve): {"subject": "park_plan", "region": "测试省/甲市/乙县"}' in out
    assert "9 finding(s): 1 conflict, 1 resolved, 3 prevails" in out


def test_the_json_has_a_stable_shape() -> None:
    result = invoke(FIXTURE, "--json")
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert set(body) == {"findings", "counts", "not_analysed", "revision"}
    assert body["counts"]["conflict"] == 1
    conflict = body["findings"][0]
    assert set(conflict) == {
        "kind",
        "severity",
        "rules",
        "policies",
        "message",
        "citations",
        "counterexample",
    }
    assert (conflict["kind"], conflict["severity"]) == ("conflict", "error")
    assert conflict["policies"] == ["fx-city", "fx-county"]
    assert conflict["counterexample"] == {
        "project": {"subject": "park_plan", "region": "测试省/甲市/乙县"},
        "date": "2021-01-01",
        "outcome": "approve",
    }
    unreachable = next(f for f in body["findings"] if f["kind"] == "unreachable")
    assert "counterexample" not in unreachable


# ---- the seed set ---------------------------------------------------------------------------


def test_the_seed_set_is_analysed_with_real_counterexamples(service: Service) -> None:
    """What the seed set holds is the re-audit's business; here: every pair the analysis
    reports is confirmed by a decision, and complementary bounds on a parameter the text
    leaves open (嘉定's lease area) are never taken for a conflict."""
    policies = service.policies
    result = analyze(policies)
    assert not result.not_analysed
    for f in result.findings:
        if len(f.rules) == 2 and f.kind != Kind.THRESHOLD_GAP:
            assert f.counterexample is not None, f
    lease = {"jiading-2017/租赁项目区经委会审", "jiading-2017/租赁项目镇审核备案"}
    assert not [f for f in result.findings if set(f.rules) == lease]


# ---- the reasoning ------------------------------------------------------------------------

SCHEMA, _ = check_schema(parse((ROOT / "policies" / "schema.zc").read_text(), "schema.zc"))
SOURCE = MemorySource({"doc": {"一": "测试条款"}})


def policy_set(*policies: tuple[str, str, str]) -> PolicySet:
    """Policies (id, region, rules) over one clause; rules cite it as `依据 一 "测试条款"`."""
    assert SCHEMA is not None
    checked = []
    for pid, region, rules in policies:
        text = f'政策 {pid} {{ 来源 doc 地区 "{region}" 施行 2020-01-01 }}\n{rules}'
        policy, diags = check_policy(parse(text, f"{pid}.zc"), SCHEMA, SOURCE)
        assert policy is not None and not [d for d in diags if d.is_error], diags
        checked.append(policy)
    return PolicySet(SCHEMA, tuple(checked), "test")


def rule(name: str, cond: str, then: str = "备案 步骤 市园区办 备案") -> str:
    return f'规则 {name} 依据 一 "测试条款" 当 {cond} 则 {then}\n'


def kinds(result: Analysis) -> list[tuple[str, tuple[str, ...]]]:
    return [(str(f.kind), f.rules) for f in result.findings]


@pytest.mark.parametrize(
    ("a", "b", "gap"),
    [
        # 超过 excludes the number and 以下 includes it: they meet without a gap or overlap
        ("项目.投资额 超过 1000万元", "项目.投资额 以下 1000万元", None),
        ("项目.投资额 以上 1000万元", "项目.投资额 不足 1000万元", None),
        # 超过 and 不足 both leave the number itself out
        ("项目.投资额 超过 1000万元", "项目.投资额 不足 1000万元", "[1000, 1000] 万元"),
        # 0.1亿元 is 1000万元
        ("项目.投资额 以上 0.1亿元", "项目.投资额 不足 500万元", "[500, 1000) 万元"),
    ],
)
def test_threshold_boundaries(a: str, b: str, gap: str | None) -> None:
    result = analyze(
        policy_set(
            ("city", "甲省/甲市", rule("大", a)),
            ("county", "甲省/甲市/乙县", rule("小", b, "备案 步骤 县园区办 备案")),
        )
    )
    gaps = result.of_kind(Kind.THRESHOLD_GAP)
    assert [g.message.rsplit(" in ", 1)[1] for g in gaps] == ([gap] if gap else [])
    assert not result.of_kind(Kind.THRESHOLD_OVERLAP) and not result.conflicts


def test_a_third_rule_can_close_the_gap() -> None:
    result = analyze(
        policy_set(
            ("city", "甲省/甲市", rule("大", "项目.投资额 以上 1000万元")),
            (
                "county",
                "甲省/甲市/乙县",
                rule("小", "项目.投资额 不足 500万元")
                + rule("中", "项目.投资额 以上 600万元 且 项目.投资额 不足 1000万元"),
            ),
        )
    )
    gaps = result.of_kind(Kind.THRESHOLD_GAP)
    assert [g.message.rsplit(" in ", 1)[1] for g in gaps] == ["[500, 600) 万元"]


def test_policies_of_unrelated_regions_or_periods_never_meet() -> None:
    result = analyze(
        policy_set(
            ("gansu", "甘肃省", rule("a", "项目.重大项目")),
            ("jiangxi", "江西省", rule("b", "项目.重大项目", "审批 步骤 省政府 审批")),
        )
    )
    assert kinds(result) == []


def test_unreachable_by_enum_region_and_text() -> None:
    result = analyze(
        policy_set(
            (
                "p",
                "甲省",
                rule("enum", "项目.用地方式 是 非供地 且 项目.用地方式 是 新增建设用地")
                + rule("region", '项目.地区 位于 "乙省"')
                + rule("text", '项目.行业 包含 "化工" 且 非 项目.行业 包含 "化"')
                + rule("bool", "项目.重大项目 且 非 (项目.重大项目 或 项目.一事一议)")
                + rule("fine", '项目.行业 包含 "化工" 且 非 项目.行业 包含 "钢"'),
            )
        )
    )
    unreachable = {f.rules[0] for f in result.of_kind(Kind.UNREACHABLE)}
    assert unreachable == {"p/enum", "p/region", "p/text", "p/bool"}


def test_same_outcome_and_path_is_no_conflict_but_another_path_is() -> None:
    result = analyze(
        policy_set(
            (
                "p",
                "甲省",
                rule("a", "项目.重大项目")
                + rule("same", "项目.一事一议")
                + rule("other", "项目.位于园区", "备案 步骤 县园区办 备案")
                + rule("never", "项目.位于园区 且 非 项目.重大项目", "审批 步骤 省政府 审批"),
            )
        )
    )
    assert kinds(result) == [
        ("conflict", ("p/a", "p/other")),
        ("conflict", ("p/same", "p/other")),
        ("conflict", ("p/same", "p/never")),
        ("conflict", ("p/other", "p/never")),
    ]


def test_the_solver_builds_projects_at_the_boundaries() -> None:
    assert SCHEMA is not None

    def facts(*lits: Lit) -> dict[str, object]:
        solution = solve(lits, SCHEMA)
        assert solution.sat, solution.contradiction
        return dict(solution.facts)

    more = Lit(resolved.Test("cmp", "investment_wan", ">", 50.0), True)
    at_most = Lit(resolved.Test("cmp", "investment_wan", "<=", 50.0), True)
    assert facts(more) == {"investment_wan": 50.0001}
    assert not solve((more, at_most), SCHEMA).sat
    industry = resolved.Test("industry", "industry", values=("C26", "化学原料和化学制品制造业"))
    text = resolved.Test("contains", "industry", values=("化学",))
    assert facts(Lit(industry, True), Lit(text, True)) == {"industry": "化学原料和化学制品制造业"}
    assert facts(Lit(industry, False), Lit(text, True)) == {"industry": "化学"}
    assert not solve(
        (
            Lit(industry, True),
            Lit(text, False),
            Lit(resolved.Test("contains", "industry", values=("C",)), False),
        ),
        SCHEMA,
    ).sat
    inner = Lit(resolved.Test("within", "region", values=("甲省/甲市",)), True)
    outer = Lit(resolved.Test("within", "region", values=("甲省",)), True)
    assert facts(outer, inner) == {"region": "甲省/甲市"}
    assert not solve((inner, outer.negated()), SCHEMA).sat
    assert Interval(lo=1000, lo_closed=False).witness() == 1000.0001


def test_unspecified_parameters_are_opaque_but_complementary() -> None:
    at_least = resolved.Test("cmp", "lease_area_m2", ">=", param="界", unspecified=True)
    below = resolved.Test("cmp", "lease_area_m2", "<", param="界", unspecified=True)
    assert SCHEMA is not None
    assert not solve((Lit(at_least, True), Lit(below, True)), SCHEMA).sat
    assert solve((Lit(at_least, True), Lit(below, False)), SCHEMA).sat
    assert dnf(at_least, positive=False) == ((Lit(at_least, False),),)
