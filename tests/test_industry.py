"""Industry by classification (GB/T 4754-2017): the shipped 门类 and 大类, how an `industry`
value names a class, the `in_industry` (属于行业) test in both evaluators, its checker errors,
and the data as content (a new entry changes an answer with no code change)."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest
import yaml

from dsl.check import check_policy, check_schema
from dsl.compile import ReteEngine
from dsl.errors import Diagnostic
from dsl.fmt import format_module
from dsl.industry import Classification, parse_classification
from dsl.interpret import Interpreter
from dsl.load import INDUSTRY_FILE, load_folder
from dsl.parser import parse
from dsl.resolved import PolicySet
from tests.conftest import ROOT, MemorySource

DATA = ROOT / "policies" / INDUSTRY_FILE
SOURCE = MemorySource({"doc": {"一": "依法取缔位于环境敏感区域内的化工企业。"}})
HEADER = '政策 p { 来源 doc 地区 "江西省" 施行 2019-01-01 }\n'
RULE = '规则 {name} 依据 一 "化工企业" 当 {cond} 则 备案 步骤 省生态环境厅 备案\n'


def classification() -> Classification:
    industries, problems = parse_classification(DATA.read_text("utf-8"), str(DATA))
    assert problems == []
    return industries


# ---- the data file ----------------------------------------------------------------------------


def test_the_data_names_its_source() -> None:
    data = yaml.safe_load(DATA.read_text("utf-8"))
    assert data["standard"] == "GB/T 4754-2017"
    assert data["title"] == "国民经济行业分类"
    assert data["issued_by"] == [
        "中华人民共和国国家质量监督检验检疫总局",
        "中国国家标准化管理委员会",
    ]
    assert (data["issued"], data["effective"]) == ("2017-06-30", "2017-10-01")


def test_twenty_sections_and_ninety_seven_divisions_each_code_once() -> None:
    c = classification()
    assert [s.code for s in c.sections] == list("ABCDEFGHIJKLMNOPQRST")
    # 大类 run 01 to 97 without a gap, in order, each under one 门类.
    assert [d.code for d in c.divisions] == [f"{n:02d}" for n in range(1, 98)]
    assert all(re.fullmatch(r"[A-T]\d\d", d.rule_code) for d in c.divisions)
    names = [s.name for s in c.sections] + [d.name for d in c.divisions]
    # Only 房地产业, 教育 and 国际组织 name both a 门类 and its only 大类.
    assert sorted(n for n in set(names) if names.count(n) > 1) == ["国际组织", "房地产业", "教育"]


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("A05", "农、林、牧、渔专业及辅助性活动"),
        ("B11", "开采专业及辅助性活动"),
        ("C25", "石油、煤炭及其他燃料加工业"),
        ("C26", "化学原料和化学制品制造业"),
        ("C27", "医药制造业"),
        ("C28", "化学纤维制造业"),
        ("C29", "橡胶和塑料制品业"),
        ("C35", "专用设备制造业"),
        ("C43", "金属制品、机械和设备修理业"),
        ("D44", "电力、热力生产和供应业"),
        ("G58", "多式联运和运输代理业"),
        ("N79", "土地管理业"),
        ("S96", "基层群众自治组织及其他组织"),
        ("T97", "国际组织"),
    ],
)
def test_divisions_spot_checked(code: str, name: str) -> None:
    [division] = [d for d in classification().divisions if d.rule_code == code]
    assert division.name == name


# ---- what a value names -----------------------------------------------------------------------

RESOLVED = [
    ("C26", {"C26", "C"}),
    ("26", {"C26", "C"}),
    ("化学原料和化学制品制造业", {"C26", "C"}),
    ("　C26 ", {"C26", "C"}),  # trimmed, a full-width space too
    ("C", {"C"}),
    ("制造业", {"C"}),
    ("教育", {"P83", "P"}),  # the 门类 and its only 大类 share the name
    ("化工装备制造", set()),  # free text: machinery that says 化工, not chemicals
    ("化工", set()),
    ("c26", set()),  # codes as the standard writes them
    ("C2614", set()),  # 小类 are not shipped
    ("B26", set()),  # 26 is no 大类 of 门类 B
]


@pytest.mark.parametrize(("value", "codes"), RESOLVED, ids=[v for v, _ in RESOLVED])
def test_a_value_names_a_class_only_by_code_or_exact_name(value: str, codes: set[str]) -> None:
    assert classification().codes_of(value) == codes


# ---- the test in both evaluators --------------------------------------------------------------

CONDITIONS = {
    "chemical": "项目.行业 属于行业 {C26}",
    "manufacturing": "项目.行业 属于行业 {C}",
    "chemical_or_pharma": "project.industry in_industry {C26, C27}",
    "not_chemical": "非 项目.行业 属于行业 {C26}",
}


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    folder = tmp_path_factory.mktemp("policies")
    shutil.copy(ROOT / "policies" / "schema.zc", folder)
    shutil.copytree(DATA.parent, folder / INDUSTRY_FILE.parent)
    body = "".join(RULE.format(name=n, cond=c) for n, c in CONDITIONS.items())
    (folder / "p.zc").write_text(HEADER + body, "utf-8")
    result = load_folder(folder, SOURCE)
    assert result.policies is not None, result.render()
    return result.policies


# value (None: not given) -> the rules that certainly fire, and those that only may.
FIRING: list[tuple[str | None, set[str], set[str]]] = [
    ("化学原料和化学制品制造业", {"chemical", "manufacturing", "chemical_or_pharma"}, set()),
    ("C26", {"chemical", "manufacturing", "chemical_or_pharma"}, set()),
    ("26", {"chemical", "manufacturing", "chemical_or_pharma"}, set()),
    (" C26 ", {"chemical", "manufacturing", "chemical_or_pharma"}, set()),
    ("化工装备制造", {"not_chemical"}, set()),
    ("医药制造业", {"manufacturing", "chemical_or_pharma", "not_chemical"}, set()),
    ("制造业", {"manufacturing", "not_chemical"}, set()),
    ("C35", {"manufacturing", "not_chemical"}, set()),
    ("房地产业", {"not_chemical"}, set()),
    (None, set(), set(CONDITIONS)),  # missing: unknown, never guessed
]


@pytest.mark.parametrize("engine", ["interpret", "rete"])
@pytest.mark.parametrize(
    ("value", "definite", "possible"), FIRING, ids=[str(v) for v, *_ in FIRING]
)
def test_membership_in_both_evaluators(
    policies: PolicySet, engine: str, value: str | None, definite: set[str], possible: set[str]
) -> None:
    project = {"region": "江西省/九江市"} | ({"industry": value} if value is not None else {})
    facts, errors = policies.schema.validate(project)
    assert errors == []
    assert facts.get("industry") == value  # free text stays free text
    evaluator = Interpreter(policies) if engine == "interpret" else ReteEngine(policies)
    fired = evaluator.fire(facts, ["p"])
    assert {k.split("/")[1] for k in fired.definite} == definite
    assert {k.split("/")[1] for k in fired.possible} == possible


# ---- syntax -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("项目.行业 属于行业 {C26,C27}", "项目.行业 属于行业 {C26, C27}"),
        ("project.industry in_industry { C }", "project.industry in_industry {C}"),
        # 属于 stays the enum test beside 属于行业
        (
            '项目.行业 属于行业 {"C26"} 且 项目.类别 属于 {工业}',
            "属于行业 {C26} 且 项目.类别 属于 {工业}",
        ),
    ],
)
def test_both_spellings_parse_and_format(text: str, canonical: str) -> None:
    lang = "zh" if text.startswith("项目") else "en"
    head = RULE if lang == "zh" else 'rule {name} cite 一 "x" when {cond} then file\n'
    module = parse(head.format(name="r", cond=text), "p.zc")
    formatted = format_module(module)
    assert parse(formatted, "p.zc") == module
    assert canonical in formatted


# ---- the checker ------------------------------------------------------------------------------


def diagnostics(cond: str, industries: Classification | None = None) -> list[Diagnostic]:
    schema, _ = check_schema(parse((ROOT / "policies" / "schema.zc").read_text("utf-8")))
    assert schema is not None
    if industries is not None:
        schema = dataclasses.replace(schema, industries=industries)
    body = HEADER + RULE.format(name="r", cond=cond)
    _, diags = check_policy(parse(body, "p.zc"), schema, SOURCE)
    return diags


@pytest.mark.parametrize(
    ("cond", "hint"),
    [
        ("项目.行业 属于行业 {C26, C99}", "did you mean"),
        ("项目.行业 属于行业 {B26}", ""),
        ("项目.行业 属于行业 {化学原料和化学制品制造业}", "write it as its code, C26"),
        ('项目.行业 属于行业 {"26"}', "write it as its code, C26"),
        ("项目.行业 属于行业 {制造业}", "write it as its code, C"),
    ],
)
def test_unknown_code_is_an_error(cond: str, hint: str) -> None:
    [d] = diagnostics(cond, classification())
    assert (d.code, d.is_error) == ("unknown_industry_code", True)
    assert "GB/T 4754-2017" in d.message and "GB/T 4754-2017" in d.message_en
    assert hint in d.hint_en
    assert (d.span.line, d.span.column) == (2, 20)  # the test itself


def test_without_a_classification_every_code_is_unknown() -> None:
    [d] = diagnostics("项目.行业 属于行业 {C26}")
    assert d.code == "unknown_industry_code" and "no classification" in d.message_en


def test_membership_of_a_non_text_field_is_a_type_mismatch() -> None:
    assert [d.code for d in diagnostics("项目.投资额 属于行业 {C26}", classification())] == [
        "type_mismatch"
    ]


# ---- the data is content ----------------------------------------------------------------------


def _folder(tmp_path: Path, data: str | None) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "policies" / "schema.zc", folder)
    if data is not None:
        (folder / INDUSTRY_FILE).parent.mkdir()
        (folder / INDUSTRY_FILE).write_text(data, "utf-8")
    (folder / "p.zc").write_text(
        HEADER + RULE.format(name="manufacturing", cond="项目.行业 属于行业 {C}"), "utf-8"
    )
    return folder


def test_a_new_entry_changes_the_answer_without_code(tmp_path: Path) -> None:
    original = DATA.read_text("utf-8")
    before = load_folder(_folder(tmp_path / "a", original), SOURCE).policies
    # A drafter adds a (fictional) 大类 98 to 制造业 in the data file, and nothing else.
    added = original.replace(
        '      "43": 金属制品、机械和设备修理业\n',
        '      "43": 金属制品、机械和设备修理业\n      "98": 增材制造试验业\n',
    )
    assert added != original
    after = load_folder(_folder(tmp_path / "b", added), SOURCE).policies
    assert before is not None and after is not None
    assert before.revision != after.revision  # the classification is part of the revision
    for value in ("增材制造试验业", "C98", "98"):
        answers = []
        for policies in (before, after):
            facts, _ = policies.schema.validate({"region": "江西省", "industry": value})
            answers.append(bool(Interpreter(policies).fire(facts, ["p"]).definite))
        assert answers == [False, True], value


def test_a_folder_without_the_data_loads_until_a_rule_tests_membership(tmp_path: Path) -> None:
    result = load_folder(_folder(tmp_path, None), SOURCE)
    assert [d.code for d in result.diagnostics] == ["unknown_industry_code"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (('"27": 医药制造业', '"26": 医药制造业'), "given twice"),  # a repeated YAML key
        (('"27": 医药制造业', "27: 医药制造业"), "two digits in quotes"),
        (('"27": 医药制造业', '"27": 化学纤维制造业'), "given to two classes"),
        (('"97": 国际组织', '"27": 国际组织'), "listed under 门类 C and T"),
        (("  T:\n", "  t:\n"), "one capital letter"),
        (("sections:", "sections: [\n"), "not valid YAML"),
    ],
)
def test_a_malformed_data_file_is_reported(
    tmp_path: Path, change: tuple[str, str], problem: str
) -> None:
    original = DATA.read_text("utf-8")
    assert original.count(change[0]) == 1
    result = load_folder(_folder(tmp_path, original.replace(*change)), SOURCE)
    assert result.policies is None
    codes = [d.code for d in result.diagnostics]
    assert "bad_classification" in codes, result.render()
    assert any(problem in d.message_en for d in result.diagnostics), result.render()
