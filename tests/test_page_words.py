"""The page's small pieces without a browser: region suggestions, identifiers in Chinese
texts, relevance in words, who-questions and their matter, form errors in Chinese."""

from __future__ import annotations

import pytest

from dsl.schema import FactError
from dsl.vocabulary import Code
from server.labels import badge, error_text, idents, short_place
from server.page_search import LABELS
from server.regions import Region, regions, suggest
from server.route_question import asks_who, matter_of
from server.service import Service

KNOWN = [
    Region("上海市", False),
    Region("上海市/嘉定区", True),
    Region("江西省", True),
    Region("浙江省", False),
    Region("浙江省/温州市", False),
    Region("浙江省/温州市/鹿城区", True),
    Region("甘肃省", False),
    Region("甘肃省/平凉市", True),
]
SUGGESTIONS = [
    ("平凉", ["甘肃省/平凉市"]),  # a short form
    ("甘肃省平凉市", ["甘肃省/平凉市"]),  # levels run together
    ("甘肃省平凉市崆峒区", ["甘肃省/平凉市/崆峒区"]),
    ("甘肃省／平凉市", ["甘肃省/平凉市"]),  # a full-width slash
    ("平凉市/崆峒区", ["甘肃省/平凉市/崆峒区"]),  # the province left out
    ("甘肃省/平良市", ["甘肃省/平凉市"]),  # a typo beside a level that matches
    ("嘉定", ["上海市/嘉定区"]),
    ("温州", ["浙江省/温州市"]),  # above a covered region: the decision names what is below
    ("温州市/鹿城", ["浙江省/温州市/鹿城区"]),
    ("甘肃省/平凉市/崆峒区", []),  # covered already
    ("甘肃省", []),  # above a covered region, spelled right
    ("平良市", []),  # a typo alone is too little to go on
    ("广州市", []),  # one character from 温州市, but another city
    ("广东省/深圳市", []),
    ("", []),
]


@pytest.mark.parametrize(("typed", "want"), SUGGESTIONS, ids=[s[0] or "empty" for s in SUGGESTIONS])
def test_suggest(typed: str, want: list[str]) -> None:
    assert suggest(typed, KNOWN) == want


def test_regions_are_the_policy_regions_and_their_parents(service: Service) -> None:
    found = regions(service.policies)
    covered = {p.header.region for p in service.policies.policies}
    assert {r.path for r in found if r.covered} == covered
    assert {r.path for r in found if not r.covered} == {
        "/".join(c.split("/")[:i]) for c in covered for i in range(1, c.count("/") + 1)
    }


IDENTS = [
    (
        "由规则 jiading-2017/不符合规划不予准入 决定",
        "由规则 <code>jiading-2017/不符合规划不予准入</code> 决定",
    ),
    ("jiading-2017/新增用地项目准入: 注", "<code>jiading-2017/新增用地项目准入</code>: 注"),
    ("jiading-2017: 该文件为试行 (trial)", "<code>jiading-2017</code>: 该文件为试行"),
    ("未提供的事实 投资额(investment_wan)", "未提供的事实 投资额(<code>investment_wan</code>)"),
    ("转载于（zhengsoso.com，2019-09-27）", "转载于（<code>zhengsoso.com</code>，2019-09-27）"),
    ("二.4 1000万元 C26", "二.4 1000万元 <code>C26</code>"),
    ("<b>x</b>", "&lt;<code>b</code>&gt;<code>x</code>&lt;/<code>b</code>&gt;"),
]


@pytest.mark.parametrize(("text", "want"), IDENTS)
def test_idents(text: str, want: str) -> None:
    assert str(idents(text)) == want


def test_badge_says_how_firm_the_outcome_is() -> None:
    assert badge("prohibit", "mandatory") == "禁止"
    assert badge("prohibit", "presumptive") == "原则上不予准入（可例外）"
    assert badge("approve", "discretionary") == "可审批（酌定）"
    assert badge("not_covered", "mandatory") == "未覆盖"
    assert badge("undetermined", "presumptive") == "未能确定"


def test_short_place() -> None:
    assert [short_place(r) for r in ("上海市/嘉定区", "江西省", "甘肃省/平凉市", "X")] == [
        "嘉定",
        "江西",
        "平凉",
        "X",
    ]


def test_relevance_in_words_is_the_calibrated_level() -> None:
    # One mapping: the API's `relevance` levels (kb.calibration), in the page's words.
    assert LABELS == {"high": "高", "medium": "中", "low": "低", None: "不相关"}


WHO = [
    ("化工园区清理整顿由谁牵头", "化工园区清理整顿"),
    ("租赁厂房的项目由谁审核", "租赁厂房的项目"),
    ("哪个部门负责招商引资？", "招商引资"),
    ("招商引资谁负责", "招商引资"),
    ("由谁负责", ""),
]


@pytest.mark.parametrize(("question", "matter"), WHO)
def test_a_who_question_and_its_matter(question: str, matter: str) -> None:
    assert asks_who(question)
    assert matter_of(question) == matter


@pytest.mark.parametrize("query", ["备案", "谁", "园区规划编制", "租赁厂房"])
def test_other_searches_are_not_who_questions(query: str) -> None:
    assert not asks_who(query)


ERRORS = [
    (Code.MISSING_FIELD, "region", "", "请填写地区（必填）"),
    (
        Code.OUT_OF_RANGE,
        "investment_wan",
        "-5",
        "投资额须为不小于 0、小于 10¹⁵ 的数，实为 <code>-5</code>",
    ),
    (
        Code.WRONG_TYPE,
        "investment_wan",
        "一千",
        "投资额须为数字（单位：万元），实为 <code>一千</code>",
    ),
    (Code.WRONG_TYPE, "major", "maybe", "重大项目须为“是”或“否”，实为 <code>maybe</code>"),
    (
        Code.UNKNOWN_ENUM_VALUE,
        "park_level",
        "<b>",
        "园区级别没有这个选项，实为 <code>&lt;b&gt;</code>；可选：国家级、省级、市级、其他",
    ),
    (
        Code.BAD_DATE,
        "_date",
        "someday",
        "评估日期须为真实的日期，格式为 年-月-日（如 2024-03-01），实为 <code>someday</code>",
    ),
]


@pytest.mark.parametrize(("code", "field", "typed", "want"), ERRORS)
def test_form_errors_are_chinese_and_escape_what_was_typed(
    service: Service, code: Code, field: str, typed: str, want: str
) -> None:
    labels = {f.name: f.label for f in service.policies.schema.fields} | {"_date": "评估日期"}
    error = FactError(field, code, "the English message of the API")
    assert str(error_text(error, service.policies.schema, {field: typed}, labels)) == want
