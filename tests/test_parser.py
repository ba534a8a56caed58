"""Parser and formatter, table-driven: bilingual keywords, errors with locations, fmt."""

from __future__ import annotations

import pytest

from dsl import ast
from dsl.errors import DslError
from dsl.fmt import format_module
from dsl.parser import parse
from dsl.units import Quantity
from tests.conftest import ROOT

ZH = """
规则 非供地项目备案 "标题"
  依据 二.4 "对投资额度在1000万元以上的非供地类项目"
  当 项目.用地方式 是 非供地 且 (项目.投资额 以上 门槛 或 非 项目.重大项目)
  则 备案
    步骤 "所在工业园区(高新区、集中区)" 报送
    步骤 市园区办 备案
    义务 "签订三方责任书"
    注 "原则上"
"""
EN = """
rule 非供地项目备案 "标题"
  cite 二.4 "对投资额度在1000万元以上的非供地类项目"
  when project.用地方式 is 非供地 and (project.投资额 以上 门槛 or not project.重大项目)
  then file
    step "所在工业园区(高新区、集中区)" 报送
    step 市园区办 备案
    obligation "签订三方责任书"
    note "原则上"
"""


def test_chinese_and_english_keywords_give_the_same_ast() -> None:
    assert parse(ZH).items == parse(EN).items
    assert parse(ZH).lang == "zh" and parse(EN).lang == "en"


def test_rule_ast() -> None:
    [rule] = parse(ZH).rules
    assert rule.outcome == "file"
    assert [(s.authority, s.action) for s in rule.steps] == [
        ("所在工业园区(高新区、集中区)", "报送"),
        ("市园区办", "备案"),
    ]
    assert isinstance(rule.when, ast.And)
    cmp = rule.when.items[1].items[0]  # type: ignore[union-attr]
    assert cmp == ast.Compare(ast.FieldRef("投资额"), "以上", ast.ParamRef("门槛"))


@pytest.mark.parametrize(
    ("text", "quantity"),
    [
        ("1000万元", Quantity("1000", "万元")),
        ("0.1亿元", Quantity("0.1", "亿元")),
        ("50亩", Quantity("50", "亩")),
        ("75%", Quantity("75", "%")),
        ("12", Quantity("12", "")),
    ],
)
def test_quantities(text: str, quantity: Quantity) -> None:
    [p] = parse(f'参数 x = {text} 依据 一 "q"').params
    assert p.value == quantity


def test_equal_money_in_different_units() -> None:
    assert Quantity("1000", "万元").in_unit("元") == Quantity("0.1", "亿元").in_unit("元")
    assert Quantity("1", "平方公里").in_unit("亩") == 1500


ERRORS = [
    # (text, line, column, words the Chinese message must contain, and the English one)
    (
        '规则 x 依据 一 "a" 则 备案',
        1,
        15,
        ["不应出现‘则’", "或‘当’（when）"],
        ["'when' (当)", "'则'"],
    ),
    ('规则 x 依据 一 "a" 当 项目.a 以上', 1, 24, ["文件结尾"], ["end of file"]),
    ('rule x cite 1 "a" when project.a：', 1, 33, ["‘：’"], ["'：'"]),
    (
        "政策 p {\n  来源 a\n  来源 b\n}",
        1,
        1,
        ["‘来源’（source）写了两次"],
        ["'source' given twice"],
    ),
    ('规则 x 依据 一 "unterminated\n', 1, 11, ['字符‘"’'], ["character '\"'"]),
    ('参数 x = 1000美元 依据 一 "q"', 1, 12, ["‘美元’"], ["'美元'"]),
]


@pytest.mark.parametrize(("text", "line", "column", "zh", "en"), ERRORS)
def test_syntax_errors(text: str, line: int, column: int, zh: list[str], en: list[str]) -> None:
    with pytest.raises(DslError) as e:
        parse(text, "t.zc")
    [d] = e.value.diagnostics
    assert (d.span.line, d.span.column) == (line, column)
    assert d.code in ("parse_error", "duplicate_header")
    for w in zh:
        assert w in d.message
    for w in en:
        assert w in d.message_en
    assert d.render(text).startswith(f"t.zc:{line}:{column}:")


def test_full_width_punctuation_gets_a_hint() -> None:
    with pytest.raises(DslError) as e:
        parse("规则 x 依据 一 “a” 当 项目.a 则 备案")
    [d] = e.value.diagnostics
    assert "全角标点" in d.hint and "full-width" in d.hint_en
    assert d.hint in d.render("规则 x 依据 一 “a” 当 项目.a 则 备案")


@pytest.mark.parametrize("path", sorted((ROOT / "policies").glob("*.zc")), ids=lambda p: p.name)
def test_seed_files_are_canonical_and_round_trip(path: object) -> None:
    text = path.read_text(encoding="utf-8")  # type: ignore[attr-defined]
    module = parse(text, str(path))
    assert format_module(module) == text
    assert parse(format_module(module)) == module


def test_fmt_keeps_comments_and_reorders_nothing() -> None:
    text = '# 说明\n参数 b = 1万元 依据 一 "q"  # 尾注\n\n# 规则之前\n参数 a = 2万元 依据 一 "q"\n'
    out = format_module(parse(text))
    assert out.index("# 说明") < out.index("参数 b") < out.index("# 规则之前") < out.index("参数 a")
    assert "# 尾注" in out


def test_keywords_stay_bare_where_a_word_is_expected() -> None:
    module = parse('规则 规则 依据 一 "q" 当 项目.是 是 备案 则 备案 步骤 "规则" "备案"')
    assert module.rules[0].steps == (ast.Step("规则", "备案"),)
    assert "步骤 规则 备案" in format_module(module)
    assert parse(format_module(module)) == module


def test_a_word_ending_in_a_newline_is_quoted() -> None:
    """Found by hypothesis: `$` matches before a final newline, so "A\\n" was written bare."""
    module = parse('规则 r 依据 一 "q" 当 项目.a 则 步骤 甲 "A\\n"')
    assert module.rules[0].steps[0].action == "A\n"
    assert parse(format_module(module)) == module


# ---- strength, precedence, exception routes and the assisting role ----------------------------

READINGS_ZH = """
规则 新上工业项目 "标题"
  依据 二.(六) "新上工业项目,原则上安排在主平台范围内"
  例外 一般规定 依据 二.(六) "除外"
  优先于 jiading-2017/不符合规划 依据 三 "优先"
  优先于 lucheng-2016 依据 三 "以本规定为准"
  当 项目.新上项目
  则 原则上 禁止
    例外途径 "区政府"
    步骤 属地街道 "配合"

分工 搬迁 依据 一 "q" 事项 "m" 牵头 "区经信局" 责任 "区财政局"
  配合 "属地街道、相关部门" 即 属地街道, 相关部门
"""
READINGS_EN = """
rule 新上工业项目 "标题"
  cite 二.(六) "新上工业项目,原则上安排在主平台范围内"
  exception_to 一般规定 cite 二.(六) "除外"
  prevails_over jiading-2017/不符合规划 cite 三 "优先"
  prevails_over lucheng-2016 cite 三 "以本规定为准"
  when project.新上项目
  then presumptive prohibit
    exception_route "区政府"
    step 属地街道 "配合"

route 搬迁 cite 一 "q" matter "m" lead "区经信局" responsible "区财政局"
  assisting "属地街道、相关部门" as 属地街道, 相关部门
"""


def test_readings_in_both_languages_give_the_same_ast() -> None:
    zh, en = parse(READINGS_ZH), parse(READINGS_EN)
    assert zh.items == en.items
    [rule] = zh.rules
    assert rule.strength == "presumptive" and rule.outcome == "prohibit"
    assert [p.target for p in rule.exception_to] == ["一般规定"]
    assert [p.target for p in rule.prevails_over] == [
        "jiading-2017/不符合规划",
        "lucheng-2016",
    ]
    assert rule.prevails_over[1].cite == ast.Cite("三", "以本规定为准")
    assert rule.exception_routes == ("区政府",)
    [route] = zh.routes
    assert route.assisting == ast.Units("属地街道、相关部门", ("属地街道", "相关部门"))
    for module in (zh, en):
        assert parse(format_module(module)) == module


@pytest.mark.parametrize("spelling", ["配合", "协助", "协办", "assisting"])
def test_assisting_has_three_chinese_spellings(spelling: str) -> None:
    module = parse(f'分工 x 依据 一 "q" 事项 "m" 牵头 "甲" {spelling} "乙"')
    assert module.routes[0].assisting == ast.Units("乙")
    assert '  配合 "乙"' in format_module(module)


@pytest.mark.parametrize(
    ("then", "strength", "outcome"),
    [
        ("则 禁止", "mandatory", "prohibit"),
        ("则 原则上 禁止", "presumptive", "prohibit"),
        ("则 依法 禁止", "by_law", "prohibit"),
        ('则 可 奖励 "b"', "discretionary", None),
        ("则 原则上", "presumptive", None),
        ("则", "mandatory", None),
    ],
)
def test_strength_is_optional_and_comes_before_the_outcome(
    then: str, strength: str, outcome: str | None
) -> None:
    [rule] = parse(f'规则 r 依据 一 "q" 当 项目.x {then}').rules
    assert (rule.strength, rule.outcome) == (strength, outcome)


@pytest.mark.parametrize(
    "text",
    [
        '规则 r 依据 一 "q" 当 项目.x 则 禁止 原则上',  # strength after the outcome
        '规则 r 当 项目.x 例外 s 依据 一 "q" 则 禁止',  # precedence after the condition
        '规则 r 依据 一 "q" 例外 s 当 项目.x 则 禁止',  # precedence without its clause
    ],
)
def test_misplaced_readings_are_syntax_errors(text: str) -> None:
    with pytest.raises(DslError) as e:
        parse(text, "t.zc")
    assert e.value.diagnostics[0].code == "parse_error"


def test_the_modal_keyword_is_not_a_prefix_of_names() -> None:
    [rule] = parse('规则 可行性 依据 一 "q" 当 项目.可行 是 可能 则 步骤 可 可以').rules
    assert rule.name == "可行性" and rule.steps == (ast.Step("可", "可以"),)
    assert rule.strength == "mandatory"


def test_a_long_list_of_what_may_stand_there_is_said_once_in_each_language() -> None:
    text = '规则 x 依据 一 "a" 当 项目.a 则 则'
    with pytest.raises(DslError) as e:
        parse(text, "t.zc")
    [d] = e.value.diagnostics
    assert d.message.startswith("此处不应出现‘则’，应为以下之一：")
    assert d.message_en.startswith("unexpected '则'; expected one of: ")
    assert len(d.expected) > 4 and "‘备案’（file）" in d.expected and "文件结尾" in d.expected
    assert all(e in d.message for e in d.expected)
    # the rendering does not list them a second time
    assert "应为以下之一" not in d.render(text).split("\n", 1)[1]
