"""A Pygments lexer for .zc policy files, so that `pygmentize -l zc` and documentation built
with Pygments highlight them (registered as the `pygments.lexers` entry point `zhengce`;
aliases zc and zhengce). dsl/syntax/zc.tmLanguage.json does the same for editors.

The keywords are listed here, not read from the grammar, as a highlighter's must be:
tests/test_highlight.py reads every keyword of dsl/grammar.lark, in both languages, and fails
until each one is highlighted here and in the TextMate grammar.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pygments.lexer import RegexLexer, default
from pygments.token import (
    Comment,
    Keyword,
    Literal,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

__all__ = ["ZhengceLexer"]

DECLARATIONS: tuple[str, ...] = (
    *("policy", "政策", "schema", "模式", "field", "字段", "param", "参数"),
    *("rule", "规则", "route", "分工", "skip", "不编码"),
)
HEADER: tuple[str, ...] = (
    *("source", "来源", "title", "标题", "doc_number", "文号", "issuer", "发布机关"),
    *("region", "地区", "issued", "发布", "effective", "施行", "until", "至", "trial", "试行"),
)
TYPES: tuple[str, ...] = (
    *("bool", "布尔", "text", "文本", "region_path", "行政区", "date", "日期"),
    *("number", "数值", "enum", "枚举"),
)
CLAUSES: tuple[str, ...] = (
    *("when", "当", "then", "则", "cite", "依据", "exception_to", "例外"),
    *("prevails_over", "优先于", "exception_route", "例外途径", "step", "步骤"),
    *("obligation", "义务", "benefit", "奖励", "note", "注", "matter", "事项"),
    *("lead", "牵头", "responsible", "责任", "assisting", "配合", "协助", "协办"),
    *("as", "即", "default", "默认", "required", "必填", "unspecified", "未规定"),
    *("project", "项目"),
)
# How firmly a rule says it, and what it decides.
VERDICTS: tuple[str, ...] = (
    *("presumptive", "原则上", "by_law", "依法", "discretionary", "可"),
    *("prohibit", "禁止", "approve", "审批", "file", "备案"),
)
CONNECTIVES: tuple[str, ...] = (
    *("and", "且", "or", "或", "not", "非", "is", "是", "is_not", "不是"),
    *("in", "属于", "in_industry", "属于行业", "within", "位于", "contains", "包含"),
)
COMPARISONS: tuple[str, ...] = (
    *("at_least", "at_most", "more_than", "less_than", "以上", "以下", "以内"),
    *("不低于", "不少于", "不超过", "不高于", "超过", "高于", "不足", "低于"),
)
CONSTANTS: tuple[str, ...] = ("true", "真", "false", "假")
# A drafted route or skip that no drafter has read against the text yet (`zhengce draft`).
MARKS: tuple[str, ...] = ("unreviewed", "待审")
UNITS: tuple[str, ...] = ("万元", "亿元", "元", "平方公里", "平方米", "公顷", "亩", "%")

_NAME = r"[^\W\d][\w\-]*"


def _keywords(*groups: tuple[str, ...]) -> str:
    # Whole words only, so that 非 is never read inside the name 非供地; longest first.
    every = sorted({w for group in groups for w in group}, key=len, reverse=True)
    return r"\b(?:" + "|".join(re.escape(w) for w in every) + r")\b"


_UNIT = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))


class ZhengceLexer(RegexLexer):
    name = "zhengce"
    aliases: ClassVar[list[str]] = ["zc", "zhengce"]
    filenames: ClassVar[list[str]] = ["*.zc"]
    mimetypes: ClassVar[list[str]] = ["text/x-zhengce"]

    tokens: ClassVar[dict[str, list[Any]]] = {
        "root": [
            (r"\s+", Whitespace),
            (r"#.*?$", Comment.Single),
            (r'"(?:[^"\\\n]|\\.)*"', String.Double),
            (r"\b(?:cite|依据|skip|不编码)\b", Keyword, "clause"),
            (r"\b(?:project|项目)(?=\s*\.)", Keyword, "field"),
            (r"\d{4}-\d{2}-\d{2}\b", Literal.Date),
            (r"\d+(?:\.\d+)?", Number),
            (rf"(?<=\d)(?:{_UNIT})", Name.Constant),  # the unit of a quantity: 1000万元
            (_keywords(DECLARATIONS), Keyword.Declaration),
            (_keywords(HEADER), Keyword.Namespace),
            (_keywords(TYPES), Keyword.Type),
            (_keywords(VERDICTS), Keyword.Reserved),
            (_keywords(CONNECTIVES, COMPARISONS), Operator.Word),
            (_keywords(CONSTANTS), Keyword.Constant),
            (_keywords(MARKS), Keyword.Pseudo),
            (_keywords(CLAUSES), Keyword),
            (_keywords(UNITS) + "|%", Name.Constant),
            (r">=|<=|[<>=]", Operator),
            (r"[{}(),:./]", Punctuation),
            (_NAME, Name),
        ],
        # The clause id after a cite or a skip: 二.4, 四.(一).1, p3.
        "clause": [
            (r"[ \t]+", Whitespace),
            (r'[^\s"#{}]+', Name.Label, "#pop"),
            default("#pop"),
        ],
        # The field after project.
        "field": [
            (r"\s+", Whitespace),
            (r"\.", Punctuation),
            (_NAME, Name.Attribute, "#pop"),
            default("#pop"),
        ],
    }
