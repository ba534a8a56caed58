"""The page's words: every enum value, status and message the reviewer's page shows, in
Chinese only. Codes and field names stay as they are where they are identifiers (the
templates put them in <code>); the JSON API keeps its English codes and field names.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup, escape

from dsl import ast
from dsl.dates import CHINA
from dsl.explain_text import value_text
from dsl.schema import FactError, Schema
from dsl.vocabulary import Code, Coverage, Outcome, Strength

OUTCOMES: dict[str, str] = {
    Outcome.PROHIBIT: "禁止",
    Outcome.APPROVE: "审批",
    Outcome.FILE: "备案",
    Outcome.NONE: "无适用规则",
    Outcome.NOT_COVERED: "未覆盖",
    Outcome.UNDETERMINED: "未能确定",
}
# The badge of an outcome that is not mandatory says how firm it is, in the text's own terms.
_FIRMNESS: dict[str, dict[str, str]] = {
    Strength.PRESUMPTIVE: {
        Outcome.PROHIBIT: "原则上不予准入（可例外）",
        Outcome.APPROVE: "原则上须审批（可例外）",
        Outcome.FILE: "原则上须备案（可例外）",
    },
    Strength.BY_LAW: {
        Outcome.PROHIBIT: "依法禁止",
        Outcome.APPROVE: "依法审批",
        Outcome.FILE: "依法备案",
    },
    Strength.DISCRETIONARY: {Outcome.APPROVE: "可审批（酌定）", Outcome.FILE: "可备案（酌定）"},
}
STATUSES = {
    Coverage.ENCODED: "已编码",
    Coverage.BY_PARTS: "分项编码",
    Coverage.SKIPPED: "不编码",
    Coverage.OPEN: "未处理",
}
# What the cited text is (kb.ingest.PROVENANCES); only `official` is the issuer's own text.
PROVENANCES = {
    "official": "官方文本",
    "news_report": "新闻报道",
    "unofficial_copy": "非官方文本",
    "reprint": "转载文本",
}
# The steps an overridden rule would have put on the path, named by its outcome.
PATHS: dict[str, str] = {
    Outcome.APPROVE: "审批路径",
    Outcome.FILE: "备案路径",
    Outcome.PROHIBIT: "禁止",
}


def badge(outcome: str, strength: str) -> str:
    """禁止; 原则上不予准入（可例外） for a presumptive prohibition; 依法审批 …"""
    # StrEnum members hash as their text, so the API's plain strings look them up.
    return _FIRMNESS.get(strength, {}).get(outcome) or OUTCOMES.get(outcome, outcome)


def fact_text(schema: Schema, name: str, value: Any) -> str:
    """A fact as a reviewer reads it: an enum's label, 是/否, a number with its unit."""
    if value is None:
        return "未提供"
    if isinstance(value, str | bool | int | float):
        return value_text(schema, name, value)
    return str(value)


def beijing(when: dt.datetime) -> str:
    """A logged time in Beijing time. SQLite gives the UTC time back without its zone,
    PostgreSQL with it."""
    aware = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return aware.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S（北京时间）")


def short_place(region: str) -> str:
    """嘉定 for 上海市/嘉定区: the last level without its 省/市/区/县 suffix, as people say it."""
    last = region.rsplit("/", 1)[-1]
    for suffix in ("自治州", "自治区", "地区", "省", "市", "区", "县"):
        if last.endswith(suffix) and len(last) - len(suffix) >= 2:
            return last[: -len(suffix)]
    return last


# ------------------------------------------------------------------- texts from the API

# An English gloss the API's texts put after a Chinese term for their callers ("试行
# (trial)"): the page, Chinese first, leaves it out. An identifier in parentheses (with _ or
# -, e.g. "(investment_wan)") is not a gloss and is kept, as code.
_GLOSS = re.compile(r"(?<=[\u3400-\u9fff])\s*\(([A-Za-z]+(?: [A-Za-z]+)*)\)")
# Identifiers inside a Chinese text: policy ids (jiading-2017), rule keys (with their Chinese
# name after the slash), field and code names (investment_wan), a site (zhengsoso.com).
_IDENT = re.compile(r"[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*(?:/[^\s/:：;；,，。、（）()“”]+)?")


def idents(text: str) -> Markup:
    """A Chinese text of the API (a reason, a note, a counterfactual) as markup: identifiers
    in <code>, English glosses dropped, everything else escaped."""
    text = _GLOSS.sub("", text)
    out, cursor = [], 0
    for m in _IDENT.finditer(text):
        if not re.search(r"[A-Za-z]", m.group()):
            continue  # a number or a clause id such as 1000 or 二.4 stays text
        out += [escape(text[cursor : m.start()]), Markup("<code>%s</code>") % m.group()]
        cursor = m.end()
    out.append(escape(text[cursor:]))
    return Markup("").join(out)


# ------------------------------------------------------------------------ form errors


def error_text(
    error: FactError, schema: Schema, form: Mapping[str, str], labels: Mapping[str, str]
) -> Markup:
    """A form error in Chinese, from its code (the schema's own messages are the API's,
    in English): what is wrong with the field, and what was typed, as code (it is the
    reviewer's own text, in whatever language it came)."""
    f = schema.field(error.field)
    typed = form.get(error.field, "")
    return Markup(_error_template(error, f)).format(
        label=labels.get(error.field) or (f.label if f else error.field),
        got=Markup("，实为 <code>{}</code>").format(typed) if typed else "",
        unit=f"（单位：{f.type.unit}）" if f and f.type.unit else "",
        choices="、".join(v.label for v in f.type.values) if f else "",
    )


def _error_template(error: FactError, f: ast.FieldDef | None) -> str:
    kind = f.type.kind if f else "date"  # the evaluation date is the one control without a field
    if error.code == Code.MISSING_FIELD:
        return "请填写{label}（必填）"
    if error.code == Code.OUT_OF_RANGE:
        return "{label}须为不小于 0、小于 10¹⁵ 的数{got}"
    if error.code == Code.BAD_REGION:
        return "{label}须为以“/”分隔的行政区路径，如 甘肃省/平凉市，每一级都不能为空{got}"
    if error.code == Code.BAD_DATE:
        return "{label}须为真实的日期，格式为 年-月-日（如 2024-03-01）{got}"
    if error.code == Code.UNKNOWN_ENUM_VALUE:
        return "{label}没有这个选项{got}；可选：{choices}"
    if error.code == Code.WRONG_TYPE and kind == "number":
        return "{label}须为数字{unit}{got}"
    if error.code == Code.WRONG_TYPE and kind == "bool":
        return "{label}须为“是”或“否”{got}"
    if error.code == Code.UNKNOWN_FIELD:
        return "表单中有本系统不认识的字段"
    return "{label}的值有误{got}"
