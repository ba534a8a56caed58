"""`zhengce draft` and the language's `待审`: units found in the text's fixed patterns, drafted
routes and skips that pass the checker with only `unreviewed_draft` warnings, clause ids by
bare item number, and one document's tests and coverage (dsl.draft, dsl.draft_units,
dsl.check_clauses, server.drafting)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from dsl import ast
from dsl.check import check_policy, check_schema
from dsl.draft_units import NamedUnits, named_units
from dsl.fmt import format_module
from dsl.parser import parse
from dsl.schema import Schema
from dsl.vocabulary import Code, Severity
from kb.corpus import Corpus
from tests.conftest import ROOT, MemorySource
from tests.tmp_project import SYNTHETIC_PAGE, SYNTHETIC_REGION, small_project, zhengce

UNITS = [
    (
        "（牵头单位：市民政局，配合单位：市教育局、各县（市、区）人民政府）",
        NamedUnits(
            "牵头单位：市民政局，配合单位：市教育局、各县（市、区）人民政府",
            lead="市民政局",
            assisting="市教育局、各县（市、区）人民政府",
        ),
    ),
    (
        # Traditional text, a list wrapped over two lines inside its bracket.
        "開展評估(牽頭單位:省審改辦;\n責任單位:各市、縣(區)政府)",
        NamedUnits(
            "牽頭單位:省審改辦;\n責任單位:各市、縣(區)政府",
            lead="省審改辦",
            responsible="各市、縣(區)政府",
        ),
    ),
    (
        "（责任单位：区经信局、相关街镇）",
        NamedUnits("责任单位：区经信局、相关街镇", responsible="区经信局、相关街镇"),
    ),
    (
        "开通绿色通道，由市人才服务中心负责。",
        NamedUnits("由市人才服务中心负责", responsible="市人才服务中心"),
    ),
    (
        "建设人才公寓，市住建局牵头、市财政局配合。",
        NamedUnits("市住建局牵头、市财政局配合", lead="市住建局", assisting="市财政局"),
    ),
    (
        "由市委组织部牵头，各园区管委会配合。",
        NamedUnits(
            "由市委组织部牵头，各园区管委会配合", lead="市委组织部", assisting="各园区管委会"
        ),
    ),
    ("（配合单位：市财政局）", NamedUnits("配合单位：市财政局", assisting="市财政局")),
]


@pytest.mark.parametrize(("text", "found"), UNITS, ids=[u[1].quote[:12] for u in UNITS])
def test_units_are_found_as_written(text: str, found: NamedUnits) -> None:
    assert named_units(text) == [found]
    assert found.quote in text


@pytest.mark.parametrize(
    "text",
    [
        "由市级领导、有关区(市)县主要负责同志分别牵头,定期督导调研",  # people, not a body
        "由市园区办对各园区建设发展中的重大事项进行梳理汇总",  # 由X but no 负责
        "到2025年，全市园区人才总量达到10万人。",
    ],
)
def test_no_units_are_invented(text: str) -> None:
    assert [u for u in named_units(text) if u.routable] == []


UNREVIEWED = """政策 p {{
  来源 d
  地区 "示例省"
  施行 2024-01-01
}}

{mark}分工 甲 "甲任务"
  依据 一.1 "甲任务由市商务局负责"
  事项 "甲任务"
  责任 "市商务局"

{mark}不编码 一 "标题"
"""


@cache
def schema() -> Schema:
    checked, _ = check_schema(parse((ROOT / "policies/schema.zc").read_text("utf-8")))
    assert checked is not None
    return checked


def test_unreviewed_is_a_warning_until_the_word_is_deleted() -> None:
    source = MemorySource({"d": {"一": "一、总则", "一.1": "1.甲任务由市商务局负责。"}})
    for mark in ("待审 ", "unreviewed "):
        module = parse(UNREVIEWED.format(mark=mark))
        assert module.routes[0].unreviewed and module.skips[0].unreviewed
        assert parse(format_module(module)) == module
        policy, diags = check_policy(module, schema(), source)
        assert policy is not None
        assert [(d.code, d.severity, d.span.line) for d in diags] == [
            (Code.UNREVIEWED_DRAFT, Severity.WARNING, 7),
            (Code.UNREVIEWED_DRAFT, Severity.WARNING, 12),
        ]
    reviewed = parse(UNREVIEWED.format(mark=""))
    assert check_policy(reviewed, schema(), source)[1] == []
    assert "待审" not in format_module(reviewed)


BARE = """政策 jiangxi-2019 {{
  来源 jiangxi-2019
  地区 "江西省"
  施行 2019-05-13
}}

分工 监管体制改革 "探索监管体制改革"
  依据 {cited} "探索監管體制改革"
  事项 "监管体制改革"
  牵头 "省編辦"

不编码 {skipped} "引言"
"""


def test_a_bare_item_number_names_its_clause() -> None:
    module = parse(BARE.format(cited="16", skipped="四"))
    policy, diags = check_policy(module, schema(), Corpus(ROOT))
    assert [d for d in diags if d.is_error] == [] and policy is not None
    # The checked policy carries the source's own id, so coverage counts the clause.
    assert [c.clause for _, c in policy.cites()] == ["四.16"]


def test_an_unknown_clause_suggests_the_nearest_ids() -> None:
    # Each section of pingliang-2023 numbers its items from 1: a bare 3 names no single
    # clause, and both are suggested.
    text = BARE.replace("jiangxi-2019", "pingliang-2023").replace("江西省", "甘肃省/平凉市")
    module = parse(text.format(cited="3", skipped="二.9"))
    _, diags = check_policy(module, schema(), Corpus(ROOT))
    unknown = [d for d in diags if d.code == Code.CITE_CLAUSE_UNKNOWN]
    assert [d.span.line for d in unknown] == [8, 12]
    assert unknown[0].hint_en.startswith("did you mean 二.3, 三.3")
    assert "二.8" in unknown[1].hint


def test_kb_show_resolves_and_suggests_like_the_checker(tmp_path: Path) -> None:
    root = small_project(tmp_path)
    result = zhengce(root, "kb", "show", "pingliang-2023", "5")
    assert result.exit_code == 0 and "pingliang-2023 二.5" in result.stdout
    result = zhengce(root, "kb", "show", "pingliang-2023", "3")
    assert result.exit_code == 1 and "did you mean 二.3, 三.3" in result.stderr


@pytest.fixture(scope="module")
def drafted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic document added and drafted in a small project."""
    root = small_project(tmp_path_factory.mktemp("draft"))
    meta = root / "meta.yaml"
    meta.write_text("issued: '2024-03-01'\n", "utf-8")
    args = ("--id", "yunling-2024", "--region", SYNTHETIC_REGION, "--meta", str(meta))
    assert zhengce(root, "add", str(SYNTHETIC_PAGE), *args).exit_code == 0
    result = zhengce(root, "draft", "yunling-2024")
    assert result.exit_code == 0, result.output
    assert "11 条分工、7 条不编码" in result.stdout
    return root


def test_the_draft_passes_the_check_with_only_unreviewed_warnings(drafted: Path) -> None:
    result = zhengce(drafted, "check")
    assert result.exit_code == 0, result.output
    assert "错误 0 个，警告 18 个" in result.stdout
    assert result.stdout.count("unreviewed_draft") == 18


def test_the_draft_is_canonical_and_names_units_as_written(drafted: Path) -> None:
    text = (drafted / "policies" / "yunling-2024.zc").read_text("utf-8")
    module = parse(text)
    assert format_module(module) == text
    header = module.header
    assert header is not None
    assert (header.region, header.effective_from, header.issued) == (
        SYNTHETIC_REGION,
        "2024-03-01",
        "2024-03-01",
    )
    routes = {r.name: r for r in module.routes}
    item = routes["第11项121人才梯队项目"]
    assert [c.clause for c in item.cites] == ["二.11", "二.11"]
    assert item.lead == ast.Units("市工业和信息化局")
    assert item.assisting == ast.Units(
        "市人力资源和社会保障局、市财政局", ("市人力资源和社会保障局", "市财政局")
    )
    assert routes["优化人才服务"].responsible == ast.Units("市人才服务中心")
    skipped = {s.clause: s for s in module.skips}
    assert set(skipped) == {"p1", "p2", "一", "一.1", "二", "三", "三.13"}
    assert skipped["p1"].reason == "文件标题" and skipped["一"].reason.startswith("标题")
    assert all(item.unreviewed for item in [*module.routes, *module.skips])


def test_draft_never_overwrites_by_accident(drafted: Path) -> None:
    policy = drafted / "policies" / "yunling-2024.zc"
    before = policy.read_text("utf-8")
    result = zhengce(drafted, "draft", "yunling-2024")
    assert result.exit_code == 2 and "error: policy_exists:" in result.stderr
    assert policy.read_text("utf-8") == before
    result = zhengce(drafted, "draft", "nowhere-1")
    assert result.exit_code == 2 and "error: unknown_document:" in result.stderr


def test_one_policy_s_tests_and_one_document_s_coverage(drafted: Path) -> None:
    result = zhengce(drafted, "test", "--policy", "pingliang-2023")
    assert result.exit_code == 0, result.output
    assert "yunling-2024" not in result.stdout
    data = json.loads(zhengce(drafted, "coverage", "pingliang-2023", "--json").stdout)
    assert [d["document"] for d in data["documents"]] == ["pingliang-2023"]
    for args in (("test", "--policy", "nowhere"), ("coverage", "nowhere")):
        result = zhengce(drafted, *args)
        assert result.exit_code == 2 and "pingliang-2023" in result.stderr, args
