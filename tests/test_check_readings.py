"""The checks that hold an encoding to its text's reading: strength of wording, declared
precedence, routing units against their clauses, and a policy's region against its source."""

from __future__ import annotations

import pytest

from dsl.check import check_policy, check_schema
from dsl.check_modality import modal_words
from dsl.check_routes import spelled_out
from dsl.errors import Diagnostic
from dsl.parser import parse
from dsl.priority import check_priorities, target_keys
from dsl.vocabulary import Strength
from kb.normalize import normalize
from tests.conftest import ROOT, MemorySource

CLAUSES = {
    "一": "新上工业项目,原则上安排在主平台范围内。",
    "二": "主平台规划范围以外的一般不再供应零星新增工业用地。",
    "三": "鼓励建设多层标准厂房,可给予一定的扶持。",
    "四": "依法取締位於各類保護區內的化工企業。",
    "五": "未经许可不得建设;应编制可行性研究报告,不可擅自开工。",
    "六": "由区经信局制订方案,属地街道和相关部门配合。",
    "七": "(牽頭單位:省發改委;責任單位:各市、縣(區)政府、贛江新區管委會)",
    "八": "市、区(市)县领导班子成员牵头负责。",
}
SOURCE = MemorySource({"doc": CLAUSES}, regions={"doc": "甘肃省"})
SCHEMA, _ = check_schema(parse((ROOT / "policies" / "schema.zc").read_text(), "schema.zc"))
HEADER = '政策 p {{ 来源 doc 地区 "{region}" 施行 2023-01-01 }}\n'


def codes(body: str, region: str = "甘肃省") -> list[str]:
    assert SCHEMA is not None
    module = parse(HEADER.format(region=region) + body, "p.zc")
    _, diags = check_policy(module, SCHEMA, SOURCE)
    return [d.code for d in diags]


def rule(clause: str, then: str, quote: str | None = None) -> str:
    return f'规则 r 依据 {clause} "{quote or CLAUSES[clause][:-1]}" 当 项目.重大项目 则 {then}\n'


MODALITY = [
    # (note, body, codes)
    ("mandatory ban quoting 原则上", rule("一", "禁止"), ["modality_presumptive_wording"]),
    ("mandatory ban quoting 一般", rule("二", "禁止"), ["modality_presumptive_wording"]),
    ("presumptive ban quoting 原则上", rule("一", "原则上 禁止"), []),
    ("presumptive ban quoting 一般", rule("二", '原则上 禁止 例外途径 "区政府"'), []),
    (
        "presumptive ban quoting no such word",
        rule("五", "原则上 禁止"),
        ["modality_mandatory_wording"],
    ),
    ("by-law ban quoting 依法 (traditional)", rule("四", "依法 禁止"), []),
    ("by-law ban quoting no such word", rule("一", "依法 禁止"), ["modality_mandatory_wording"]),
    ("mandatory ban quoting 依法 is fine", rule("四", "禁止"), []),
    ("discretionary benefit quoting 鼓励", rule("三", '可 奖励 "扶持"'), []),
    (
        "discretionary quoting no such word",
        rule("五", '可 奖励 "扶持"'),
        ["modality_mandatory_wording"],
    ),
    (
        "mandatory duty quoting 鼓励, not repeated",
        rule("三", '义务 "建设多层标准厂房"'),
        ["modality_presumptive_wording"],
    ),
    (
        "mandatory duty repeating 鼓励 in a note",
        rule("三", '义务 "x" 注 "鼓励，非强制"', "鼓励建设多层标准厂房"),
        [],
    ),
    (
        "every weak word must be repeated",
        rule("三", '义务 "x" 注 "鼓励，非强制"'),
        ["modality_presumptive_wording"],  # 可给予 is not repeated
    ),
    (
        "an outcome keeps its qualifier only as its strength",
        rule("一", '禁止 注 "原则上"'),
        ["modality_presumptive_wording"],
    ),
    ("discretionary ban", rule("三", "可 禁止"), ["discretionary_requirement"]),
    (
        "discretionary approval",
        rule("三", "可 审批 步骤 区政府 审批"),
        ["discretionary_requirement"],
    ),
    ("discretionary steps", rule("三", "可 步骤 区政府 扶持"), ["discretionary_requirement"]),
    ("许可, 可行性 and 不可 are not the modal 可", rule("五", "禁止"), []),
]


@pytest.mark.parametrize(("note", "body", "want"), MODALITY, ids=[c[0] for c in MODALITY])
def test_modality(note: str, body: str, want: list[str]) -> None:
    assert codes(body) == want


@pytest.mark.parametrize(
    ("strength", "text", "words"),
    [
        (Strength.DISCRETIONARY, "可给予扶持", ["可"]),
        (Strength.DISCRETIONARY, "可以申请", ["可"]),
        (
            Strength.DISCRETIONARY,
            "未经许可、经认可、可行性研究、可持续发展、不可开工、备案即可",
            [],
        ),
        (Strength.DISCRETIONARY, "优先保障用地需求,支持并鼓励", ["优先", "支持", "鼓励"]),
        (Strength.PRESUMPTIVE, "原则上安排;一般不再供应", ["原则上", "一般"]),
        (Strength.PRESUMPTIVE, "按照基本原则;一般公共预算;一般性要求", []),
        (Strength.PRESUMPTIVE, "原则同意", ["原则"]),
        (Strength.BY_LAW, "依法取缔,按规定办理", ["依法", "按规定"]),
    ],
)
def test_modal_words(strength: Strength, text: str, words: list[str]) -> None:
    assert modal_words(strength, text) == words


def route(units: str, clause: str = "六") -> str:
    return f'分工 x 依据 {clause} "{CLAUSES[clause][:-1]}" 事项 "m" {units}\n'


UNITS = [
    (
        "units as the clause writes them",
        route('牵头 "区经信局" 配合 "属地街道和相关部门" 即 属地街道, 相关部门'),
        [],
    ),
    ("assisting spelt 协助", route('牵头 "区经信局" 协助 "属地街道和相关部门"'), []),
    ("a lead the clause does not name", route('牵头 "区财政局"'), ["unit_not_in_clause"]),
    (
        "an assisting unit the clause does not name",
        route('牵头 "区经信局" 配合 "区财政局"'),
        ["unit_not_in_clause"],
    ),
    (
        "a name after 即 the clause does not name",
        route('牵头 "区经信局" 即 区经信局, 区发改局'),
        ["unit_not_in_clause"],
    ),
    (
        "a coordinated list spelt out (traditional text)",
        route(
            '牵头 "省發改委" 责任 "各市、縣(區)政府、贛江新區管委會"'
            ' 即 各市政府, "各縣(區)政府", 贛江新區管委會',
            "七",
        ),
        [],
    ),
    (
        "a shared head spelt out",
        route('牵头 "市、区(市)县领导班子成员" 即 市领导班子成员, "区(市)县领导班子成员"', "八"),
        [],
    ),
    (
        "a spelt-out name the list does not make",
        route('责任 "各市、縣(區)政府" 即 省政府', "七"),
        ["unit_not_in_clause"],
    ),
]


@pytest.mark.parametrize(("note", "body", "want"), UNITS, ids=[c[0] for c in UNITS])
def test_units_against_clauses(note: str, body: str, want: list[str]) -> None:
    assert codes(body) == want


def test_spelled_out_needs_a_shared_part() -> None:
    items = ["各市", "县(区)政府", "赣江新区管委会"]
    assert spelled_out("各市政府", items) and spelled_out("各县(区)政府", items)
    assert not spelled_out("各市", items)  # an item itself is no spelling out
    assert not spelled_out("省县(区)政府", items)  # 省 is no earlier item's modifier


def test_route_answer_has_the_assisting_units() -> None:
    assert SCHEMA is not None
    module = parse(
        HEADER.format(region="甘肃省")
        + route('牵头 "区经信局" 协办 "属地街道和相关部门" 即 属地街道, 相关部门')
    )
    policy, diags = check_policy(module, SCHEMA, SOURCE)
    assert policy is not None and diags == []
    [r] = policy.routes
    assert (r.lead, r.responsible, r.assisting) == (("区经信局",), (), ("属地街道", "相关部门"))


@pytest.mark.parametrize(
    ("region", "want"),
    [
        ("甘肃省", []),
        ("甘肃省/", []),
        ("甘肃省/平凉市", ["region_mismatch"]),
        ("江西省", ["region_mismatch"]),
    ],
)
def test_region_against_the_source(region: str, want: list[str]) -> None:
    assert codes(rule("四", "依法 禁止"), region) == want


def test_region_unknown_to_the_source_is_not_checked() -> None:
    assert SCHEMA is not None
    module = parse(HEADER.format(region="任何地区") + rule("四", "依法 禁止"), "p.zc")
    _, diags = check_policy(module, SCHEMA, MemorySource({"doc": CLAUSES}))
    assert diags == []


# ---- declared precedence --------------------------------------------------------------------

POLICY_A = """政策 a {{ 来源 doc 地区 "甘肃省" 施行 2023-01-01 }}
规则 一般 依据 一 "原则上" 当 项目.重大项目 则 原则上 禁止
规则 特别 依据 一 "新上工业项目"
  例外 {target} 依据 一 "原则上"
  当 项目.重大项目 则 审批 步骤 区政府 审批
"""
POLICY_B = '政策 b { 来源 doc 地区 "甘肃省/平凉市" 施行 2024-01-01 }\n' + rule("一", "原则上 禁止")


@pytest.mark.parametrize(
    ("target", "want"),
    [
        ("一般", []),  # a rule of the same policy
        ("b/r", []),  # a rule key
        ("b", []),  # every rule of a policy
        ("a", []),  # its own policy: the other rules of it
        ("特别", ["unknown_priority_target"]),  # itself
        ("无此规则", ["unknown_priority_target"]),
        ("b/无此规则", ["unknown_priority_target"]),
        ("c", ["unknown_priority_target"]),
    ],
)
def test_priority_targets(target: str, want: list[str]) -> None:
    modules = [parse(POLICY_A.format(target=target), "a.zc"), parse(POLICY_B, "b.zc")]
    diags: list[Diagnostic] = check_priorities(modules)
    assert [d.code for d in diags] == want
    if diags:
        assert (diags[0].span.path, diags[0].span.line) == ("a.zc", 4)


def test_target_keys_prefer_a_rule_of_the_same_policy() -> None:
    rules = {"a": ["b", "x"], "b": ["r", "s"]}
    assert target_keys("b", "a", rules) == ("a/b",)
    assert target_keys("b", "c", rules) == ("b/r", "b/s")
    assert target_keys("b/s", "a", rules) == ("b/s",)
    assert target_keys("b/t", "a", rules) == ()


def test_the_set_loader_reports_an_unknown_target(tmp_path: object) -> None:
    from pathlib import Path

    from dsl.load import load_files

    folder = Path(str(tmp_path))
    (folder / "a.zc").write_text(POLICY_A.format(target="无此规则"), "utf-8")
    schema = ROOT / "policies" / "schema.zc"
    result = load_files([schema, folder / "a.zc"], schema, SOURCE)
    assert result.policies is None
    assert [d.code for d in result.errors] == ["unknown_priority_target"]


def test_quotes_are_normalised_before_words_are_matched() -> None:
    assert modal_words(Strength.BY_LAW, normalize("依法取締")) == ["依法"]
