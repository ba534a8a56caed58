"""Plain Chinese for a reviewer: fact values with their labels and units, and each atomic
condition with the actual value against what the rule asks, as a stable code (`op`) and a
sentence ("投资额 1500万元 ≥ 1000万元（以上，含本数）"), never the DSL's own syntax.

The trace of fired rules, the structured why_not and the counterfactuals all say a
condition through `describe`, so the three never word the same test differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dsl import ast
from dsl.interpret import test as evaluate_test
from dsl.resolved import NEGATED, Test
from dsl.schema import DECIMALS, FactValue, Schema
from dsl.vocabulary import Outcome, Strength

# Operator codes for calling systems (`op` of ConditionTrace, WhyNot), by test kind and
# polarity: a test under `非` gets the complementary code, so `op` always says what must hold.
CMP_CODES = {">=": "ge", ">": "gt", "<=": "le", "<": "lt"}
SYMBOLS = {">=": "≥", ">": ">", "<=": "≤", "<": "<"}
# The counting words of README's table, one per operator: 以上/以下 include the number itself
# (民法典 第1259条), 超过/不足 do not. A Chinese spelling in the rule is kept instead.
WORDS = {">=": "以上", ">": "超过", "<=": "以下", "<": "不足"}
_KIND_CODES = {
    "within": ("within", "not_within"),
    "contains": ("contains", "not_contains"),
    "industry": ("in_industry", "not_in_industry"),
}
# Labels that start with a verb are denied with 不 (不符合规划, 不位于主平台); the others
# name a kind of project and are denied with 非 (非重大项目, 非一事一议).
_VERBS = ("符合", "位于", "属于", "需", "是", "有")
OUTCOME_WORDS = {
    Outcome.PROHIBIT: "禁止",
    Outcome.APPROVE: "审批",
    Outcome.FILE: "备案",
    Outcome.NONE: "没有规则给出结论",
    Outcome.NOT_COVERED: "本系统未覆盖",
    Outcome.UNDETERMINED: "未能确定",
}


@dataclass(frozen=True)
class Described:
    """One atomic condition as it applies to the facts: what must hold (`op`, `expected` in
    the field's own unit or enum name), the actual value (`actual`, "" when missing), whether
    it holds (None: unknown) and the sentence saying so."""

    op: str
    expected: str
    actual: str
    holds: bool | None
    text: str


def number_text(value: float) -> str:
    """1000.0 as 1000, 999.9999 as is: facts are kept to DECIMALS places (dsl.schema)."""
    return f"{value:.{DECIMALS}f}".rstrip("0").rstrip(".")


def plain(value: FactValue | None) -> str:
    """A fact value for calling systems: numbers without a trailing .0, true/false, ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | int):
        return number_text(float(value))
    return value


def label(schema: Schema, field: str) -> str:
    f = schema.field(field)
    return f.label if f else field


def value_text(schema: Schema, field: str, value: FactValue) -> str:
    """A fact value as a reviewer reads it: an enum's label, 是/否, a number with its unit."""
    f = schema.field(field)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float | int):
        return number_text(float(value)) + (f.type.unit if f else "")
    if f is not None and f.type.kind == "enum":
        return next((v.label for v in f.type.values if v.name == value), value)
    return value


def bool_text(name: str, value: bool) -> str:
    """符合规划 / 不符合规划, 重大项目 / 非重大项目."""
    if value:
        return name
    return ("不" if name.startswith(_VERBS) else "非") + name


def op_code(t: Test, positive: bool) -> str:
    if t.kind == "bool":
        return "true" if positive else "false"
    if t.kind == "cmp":
        return CMP_CODES[t.op if positive else NEGATED[t.op]]
    if t.kind == "eq":
        if len(t.values) == 1:
            return "eq" if positive else "ne"
        return "in" if positive else "not_in"
    yes, no = _KIND_CODES[t.kind]
    return yes if positive else no


def cmp_word(t: Test, positive: bool) -> str:
    """以上, 超过 … for the operator that must hold; the rule's own Chinese spelling when the
    test is not negated (不低于 stays 不低于)."""
    source = t.source
    if positive and isinstance(source, ast.Compare) and not source.op.isascii():
        return source.op
    return WORDS[t.op if positive else NEGATED[t.op]]


def bound_text(t: Test, unit: str, positive: bool) -> str:
    """≥ 1000万元（以上，含本数）: the comparison that must hold, with the counting word."""
    op = t.op if positive else NEGATED[t.op]
    bound = t.param if t.unspecified else number_text(t.value) + unit
    inclusive = "含本数" if op in (">=", "<=") else "不含本数"
    return f"{SYMBOLS[op]} {bound}（{cmp_word(t, positive)}，{inclusive}）"


def industry_text(schema: Schema, codes: tuple[str, ...]) -> str:
    """C26（化学原料和化学制品制造业）、C（制造业）."""
    c = schema.industries
    names = {s.code: s.name for s in c.sections} | {d.rule_code: d.name for d in c.divisions}
    return "、".join(f"{code}（{names[code]}）" if code in names else code for code in codes)


def expected_of(t: Test, positive: bool) -> str:
    """What must hold, for calling systems: the bound in the field's unit ("" for a bound the
    text leaves open), enum names joined by commas, true/false, the region, phrases or codes."""
    if t.kind == "bool":
        return plain(positive)
    if t.kind == "cmp":
        return "" if t.unspecified else number_text(t.value)
    if t.kind == "industry" and isinstance(t.source, ast.InIndustry):
        return ",".join(t.source.codes)
    return ",".join(t.values)


def describe(t: Test, positive: bool, facts: Mapping[str, FactValue], schema: Schema) -> Described:
    """`t` (negated unless `positive`) against the facts, in plain Chinese."""
    result = evaluate_test(t, facts)
    holds = None if result is None else result == positive
    actual = facts.get(t.field)
    text = _sentence(t, positive, holds, actual, schema)
    return Described(op_code(t, positive), expected_of(t, positive), plain(actual), holds, text)


def _sentence(
    t: Test, positive: bool, holds: bool | None, actual: FactValue | None, schema: Schema
) -> str:
    name = label(schema, t.field)
    f = schema.field(t.field)
    unit = f.type.unit if f else ""
    want = _requirement(t, positive, unit, schema)
    if t.kind == "bool":
        if actual is None:
            return f"是否{name}未提供，须{want}"
        return want if holds else f"{bool_text(name, not positive)}，须{want}"
    if actual is None:
        return f"{name}未提供，须{want}"
    shown = value_text(schema, t.field, actual)
    if holds is None:  # a known value against a bound the text leaves open
        return f"{name} {shown}，须 {bound_text(t, unit, positive)}，而文件未规定{t.param}"
    if not holds:
        return f"{name}须{want}，实为{'' if t.kind == 'eq' else ' '}{shown}"
    if t.kind == "cmp":
        return f"{name} {shown} {bound_text(t, unit, positive)}"
    if t.kind == "eq":
        return f"{name}为{shown}" if positive else f"{name}为{shown}，{want}"
    if t.kind == "contains" and positive:  # name the phrase found, not every one asked for
        found = "、".join(f"“{p}”" for p in t.values if p in shown)
        return f"{name} {shown} 包含 {found}"
    return f"{name} {shown} {want}"


def _requirement(t: Test, positive: bool, unit: str, schema: Schema) -> str:
    """What the condition asks, after 须: " ≥ 1000万元（…）", "为园区规划", "不是非供地" …"""
    if t.kind == "cmp":
        return f" {bound_text(t, unit, positive)}"
    if t.kind == "bool":
        return bool_text(label(schema, t.field), positive)
    if t.kind == "eq":
        shown = "、".join(value_text(schema, t.field, v) for v in t.values)
        if len(t.values) == 1:
            return f"为{shown}" if positive else f"不是{shown}"
        return f"属于 {shown} 之一" if positive else f"不属于 {shown}"
    deny = "" if positive else "不"
    if t.kind == "within":
        return f"{deny}位于 {t.values[0]}"
    if t.kind == "industry" and isinstance(t.source, ast.InIndustry):
        return f"{deny}属于行业 {industry_text(schema, t.source.codes)}"
    phrases = "、".join(f"“{p}”" for p in t.values)
    return f"{deny}包含 {phrases}" + ("（之一）" if positive and len(t.values) > 1 else "")


def outcome_text(outcome: Outcome, strength: Strength) -> str:
    """禁止, 原则上禁止（可例外）, 依法审批 …"""
    word = OUTCOME_WORDS[outcome]
    if strength == Strength.PRESUMPTIVE:
        return f"原则上{word}（可例外）"
    if strength == Strength.BY_LAW:
        return f"依法{word}"
    return word
