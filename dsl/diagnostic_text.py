"""What every diagnostic says: one table of templates per code, each in Chinese for the
drafter (`message`) and in English beside it (`message_en`), with named fields, so that both
languages are written from the same facts (field names, values, clause ids) at one call.

    diagnostic(Code.UNKNOWN_FIELD, span, name="颜色", hint=did_you_mean(near))

A fact is text as written (names, clause ids, quotes: the same in both languages), a
`Wording` (a word of the language with its two spellings), or a vocabulary member (outcome,
strength, role), which each language spells its own way. A list of facts is joined with 、
in Chinese and with commas in English. DSL keywords, field names and clause ids stay verbatim.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass

from dsl.errors import Diagnostic, Span
from dsl.units import DIMENSION_LABELS
from dsl.vocabulary import OUTCOME_KEYWORDS, Code, Outcome, Role, Strength


@dataclass(frozen=True)
class Wording:
    """The same words in Chinese and in English: a template, a fact, or a rendered text."""

    zh: str
    en: str


NO_HINT = Wording("", "")

Fact = str | int | float | Wording | Sequence[str | Wording]

_W = Wording

# Templates by code, then by variant ("" where the code says one thing).
MESSAGES: dict[Code, dict[str, Wording]] = {
    Code.UNREADABLE_FILE: {
        "missing": _W("文件不存在", "no such file"),
        "denied": _W("没有读取此文件的权限", "permission denied"),
        "directory": _W("这是一个文件夹，不是文件", "is a directory, not a file"),
        "os": _W("无法读取文件：{reason}", "cannot read the file: {reason}"),
        "not_utf8": _W(
            "不是 UTF-8 编码的文本（第 {position} 个字节无法解码），请另存为 UTF-8",
            "not UTF-8 text (byte {position} cannot be decoded)",
        ),
    },
    Code.PARSE_ERROR: {
        "expected": _W("此处不应出现{found}，应为{tokens}", "expected {tokens}, found {found}"),
        "unexpected": _W("此处不应出现{found}", "unexpected {found}"),
        "unexpected_of": _W(
            "此处不应出现{found}，应为以下之一：{tokens}",
            "unexpected {found}; expected one of: {tokens}",
        ),
        "internal": _W("语法分析器无法读取此文件：{error}", "{error}"),
    },
    Code.TOO_DEEP: {
        "": _W(
            "条件嵌套过深，无法分析；请拆分为几条较简单的规则",
            "the condition nests too deeply; split it into simpler rules",
        ),
    },
    Code.DUPLICATE_HEADER: {"": _W("头部的{key}写了两次", "'{key}' given twice")},
    Code.MISSING_SCHEMA: {
        "": _W("此文件中没有`模式`（schema）", "no schema in this file"),
        "no_file": _W("模式文件不存在：{path}", "no schema file at {path}"),
    },
    Code.MISPLACED_SCHEMA: {
        "": _W(
            "模式应单独写在自己的文件 schema.zc 中", "the schema belongs in its own file, schema.zc"
        ),
    },
    Code.DUPLICATE_NAME: {
        "field": _W("‘{name}’同时是两个字段的名称", "'{name}' names two fields"),
        "enum_values": _W(
            "字段‘{field}’的枚举值重复：{values}", "enum values of '{field}' repeat: {values}"
        ),
        "param": _W("参数‘{name}’定义了两次", "parameter '{name}' is defined twice"),
        "item": _W("‘{name}’定义了两次", "'{name}' is defined twice"),
        "policy": _W(
            "政策编号‘{name}’已被 {other} 使用", "policy id '{name}' is also used by {other}"
        ),
    },
    Code.BAD_CLASSIFICATION: {
        "yaml": _W("不是有效的 YAML：{problem}", "not valid YAML: {report}"),
        "duplicate_key": _W(
            "不是有效的 YAML：键 {key} 写了两次", "not valid YAML: {key} is given twice"
        ),
        "no_sections": _W(
            "文件须有由门类组成的映射 `sections`（见文件开头的说明）",
            "the file needs a mapping `sections` of 门类 (see its header)",
        ),
        "section_code": _W(
            "门类代码 {code} 不是一个大写字母", "门类 code {code} is not one capital letter"
        ),
        "section_name": _W("门类 {code} 须有 `name`", "门类 {code} needs a `name`"),
        "divisions": _W(
            "门类 {code}：`divisions` 须把大类代码映射到名称",
            "门类 {code}: `divisions` must map 大类 codes to names",
        ),
        "division_code": _W(
            '门类 {code}：大类代码 {number} 不是加引号的两位数字（"01"）',
            '门类 {code}: 大类 code {number} is not two digits in quotes ("01")',
        ),
        "division_name": _W(
            "门类 {code}：大类 {number} 须有名称", "门类 {code}: 大类 {number} needs a name"
        ),
        "division_twice": _W(
            "大类 {number} 同时列在门类 {first} 和 {second} 之下",
            "大类 {number} is listed under 门类 {first} and {second}",
        ),
        "name_twice": _W("名称 {name} 给了两个类别", "the name {name} is given to two classes"),
    },
    Code.MISSING_HEADER: {
        "no_header": _W(
            "政策文件须有`政策`（policy）头部", "a policy file needs a `policy` (政策) header"
        ),
        "no_source": _W(
            "头部没有写`来源`（source）文件", "the header names no `source` (来源) document"
        ),
        "no_region": _W("头部没有写`地区`（region）", "the header names no `region` (地区)"),
        "no_effective": _W(
            "头部没有写`施行`（effective）日期", "the header gives no `effective` (施行) date"
        ),
    },
    Code.UNKNOWN_DOCUMENT: {
        "": _W(
            "policies/sources 中没有来源文件‘{document}’",
            "no source document '{document}' in policies/sources",
        ),
    },
    Code.BAD_DATE: {
        "not_a_date": _W(
            "{label}日期 {value} 不是真实的日历日期", "{label} date {value} is not a calendar date"
        ),
        "period": _W("施行期的结束日期早于开始日期", "the effective period ends before it starts"),
    },
    Code.CITE_CLAUSE_UNKNOWN: {
        "": _W("{document} 中没有条款 {clause}", "clause {clause} does not exist in {document}"),
    },
    Code.CITE_QUOTE_EMPTY: {
        "": _W("依据须有逐字引文，引文不能为空", "a citation needs a verbatim quote"),
    },
    Code.CITE_QUOTE_NOT_FOUND: {
        "": _W(
            "引文不在 {document} 的条款 {clause} 中",
            "the quote is not in clause {clause} of {document}",
        ),
    },
    Code.SKIP_WITHOUT_REASON: {
        "": _W("不编码的条款须写明理由", "a skipped clause needs a reason"),
    },
    Code.SKIP_OF_CITED_CLAUSE: {
        "": _W(
            "条款 {clause} 既被依据引用，又被声明不编码",
            "clause {clause} is cited and also skipped",
        ),
    },
    Code.UNREVIEWED_DRAFT: {
        "route": _W(
            "分工‘{name}’由 `zhengce draft` 起草，尚未审核（待审）",
            "route '{name}' drafted by `zhengce draft` is not yet reviewed (待审)",
        ),
        "skip": _W(
            "条款 {clause} 的不编码声明由 `zhengce draft` 起草，尚未审核（待审）",
            "the skip of clause {clause} drafted by `zhengce draft` is not yet reviewed (待审)",
        ),
    },
    Code.UNKNOWN_FIELD: {"": _W("未知字段‘{name}’", "unknown field '{name}'")},
    Code.UNKNOWN_ENUM_VALUE: {
        "": _W("‘{value}’不是字段‘{field}’的取值", "'{value}' is not a value of '{field}'"),
    },
    Code.UNKNOWN_PARAM: {"": _W("未知参数‘{name}’", "unknown parameter '{name}'")},
    Code.UNKNOWN_UNIT: {"": _W("未知单位 {unit}", "unknown unit {unit}")},
    Code.UNKNOWN_INDUSTRY_CODE: {
        "": _W(
            "‘{code}’不是{standard}的门类或大类代码",
            "'{code}' is no 门类 or 大类 code of {standard}",
        ),
        "no_file": _W(
            "无法核对‘{code}’：未载入行业分类（{path} 不存在或无效）",
            "'{code}' cannot be checked: no classification (no valid {path})",
        ),
        "none_loaded": _W(
            "无法核对‘{code}’：未载入行业分类",
            "'{code}' cannot be checked: no classification loaded",
        ),
    },
    Code.TYPE_MISMATCH: {
        "default": _W(
            "默认值 {value} 不符合字段‘{field}’的类型（{kind}）",
            "default {value} does not fit type {kind} of '{field}'",
        ),
        "kind": _W(
            "{test}须用于{wanted}字段；‘{field}’（{label}）是{kind}字段",
            "{test} needs a {wanted} field; '{field}' ({label}) is {kind}",
        ),
        "bool_value": _W(
            "‘{field}’是布尔字段：只能与 真 或 假（true、false）比较",
            "'{field}' is bool: compare it with true or false",
        ),
    },
    Code.UNIT_MISMATCH: {
        "": _W(
            "‘{field}’（{label}）是{wanted}（{wanted_unit}），不能与{dimension}（{unit}）比较",
            "'{field}' ({label}) is {wanted} ({wanted_unit}); "
            "cannot compare it with {dimension} ({unit})",
        ),
    },
    Code.NUMBER_OUT_OF_RANGE: {
        "": _W(
            "{operand} 换算为字段的单位是 {value}，太小或太大，无法比较",
            "{operand} is {value} in the field's unit, too small or too large to compare",
        ),
    },
    Code.CONDITION_TOO_COMPLEX: {
        "": _W(
            "规则‘{rule}’展开后超过 {limit} 条引擎规则（每个非必填的事实都使情形加倍）",
            "rule '{rule}' expands to more than {limit} engine rules "
            "(each optional fact doubles the cases)",
        ),
    },
    Code.BOUND_WORDING_MISMATCH: {
        "": _W(
            "‘{op}’的含义是{meaning}，但引文中 {quantity} 的界限是{said}",
            "'{op}' means {meaning} but the quote says {quantity} with a bound meaning {said}",
        ),
    },
    Code.NO_STEPS: {
        "": _W(
            "规则‘{rule}’的结论是{outcome}，却没有给出步骤",
            "rule '{rule}' sets outcome {outcome} but gives no steps",
        ),
    },
    Code.MODALITY_PRESUMPTIVE_WORDING: {
        "": _W(
            "规则‘{rule}’是强制性的，但引文写有‘{word}’，读作{strength}",
            "rule '{rule}' is mandatory but its quote says '{word}', which reads {strength}",
        ),
    },
    Code.MODALITY_MANDATORY_WORDING: {
        "": _W(
            "规则‘{rule}’是{strength}的，但引文中没有这类词语",
            "rule '{rule}' is {strength} but none of its quotes uses such a word",
        ),
    },
    Code.DISCRETIONARY_REQUIREMENT: {
        "outcome": _W(
            "规则‘{rule}’是可为性（可）的，却给出了结论{outcome}",
            "rule '{rule}' is discretionary (可) but gives the outcome {outcome}",
        ),
        "steps": _W(
            "规则‘{rule}’是可为性（可）的，却给出了步骤",
            "rule '{rule}' is discretionary (可) but gives steps",
        ),
    },
    Code.UNKNOWN_PRIORITY_TARGET: {
        "": _W(
            "规则‘{rule}’声明{kind}‘{target}’，但它不指向政策集中的其他任何规则",
            "rule '{rule}' declares {kind} '{target}', which names no other rule of the policy set",
        ),
    },
    Code.UNRESOLVED_CONFLICT: {
        "": _W(
            "规则 {first} 与 {second} 可适用于同一项目而结论或路径不同，二者之间未声明优先关系",
            "{detail}",
        ),
        "example": _W(
            "规则 {first} 与 {second} 可适用于同一项目而结论或路径不同，二者之间未声明优先关系；"
            "例如 {date} 的项目 {project}",
            "{detail}; e.g. the project {project} on {date}",
        ),
    },
    Code.ROUTE_WITHOUT_UNITS: {
        "": _W(
            "分工‘{name}’没有写牵头单位或责任单位",
            "route '{name}' names no lead or responsible unit",
        ),
    },
    Code.UNIT_NOT_IN_CLAUSE: {
        "": _W(
            "分工‘{route}’：{role}单位‘{name}’不在条款 {clauses} 的原文中",
            "route '{route}': {role} unit '{name}' is not in the text of clause {clauses}",
        ),
    },
    Code.REGION_MISMATCH: {
        "": _W(
            "政策‘{policy}’的地区是‘{region}’，但其来源文件‘{source}’属于‘{document_region}’",
            "policy '{policy}' has region '{region}' but its source document '{source}' "
            "is of '{document_region}'",
        ),
    },
}

# Hints, by name: what to do about it.
HINTS: dict[str, Wording] = {
    "did_you_mean": _W("是否想写：{near}？", "did you mean {near}?"),
    "as_code": _W("请写它的代码 {code}", "write it as its code, {code}"),
    "closest": _W(
        '条款 {clause} 中最接近的文字："{closest}"', 'closest text in {clause}: "{closest}"'
    ),
    "one_of": _W("可选的取值：{values}", "one of: {values}"),
    "full_width": _W(
        '全角标点：引号以外请用半角的 " : , ( ) {{ }} =',
        'full-width punctuation: use ASCII " : , ( ) {{ }} = outside quoted strings',
    ),
    "params_first": _W(
        "参数须在使用它的规则之前定义", "parameters must be defined before the rules that use them"
    ),
    "threshold_range": _W(
        "阈值换算为字段自身的单位后须在 0.0001 与 10^15 之间",
        "thresholds must lie between 0.0001 and 10^15 in the field's own unit",
    ),
    "split_rule": _W(
        "请拆分为几条规则，或把它检验的事实设为必填",
        "split it into several rules, or make the facts it tests required",
    ),
    "review_draft": _W(
        "请对照条款阅读并修改，然后删去“待审”二字",
        "read it against the clause, correct it, then delete the word 待审",
    ),
    "bound_words": _W(
        "以上、以下、以内包括本数；超过、不足、低于不包括本数",
        "以上/以下/以内 include the number; 超过/不足/低于 do not",
    ),
    "discretionary": _W(
        "可为性的条文（可、鼓励、支持、优先）从不禁止，也不要求某个步骤：请写奖励、义务或注，"
        "或写条文支持的强度",
        "a discretionary text (可, 鼓励, 支持, 优先) never prohibits or requires a step: give "
        "benefits, obligations or notes, or a strength the text supports",
    ),
    "write_strength": _W(
        "请在`则`之后写明强度（原则上 / 可）；没有结论的规则也可以在义务、奖励或注中重复这个词",
        "write the strength after `则` (原则上 / 可); a rule without an outcome may instead "
        "repeat the word in an obligation, benefit or note",
    ),
    "quote_strength": _W(
        "请引用限定结论的原文词语，或去掉强度",
        "quote the words that qualify the outcome, or drop the strength",
    ),
    "priority_target": _W(
        "请写本政策的规则名、规则键 policy/rule 或政策编号",
        "name a rule of this policy, a rule key policy/rule, or a policy id",
    ),
    "declare_priority": _W(
        "请声明哪条规则优先，并引用写明这一点的条款：对另一条规则或政策写`例外`（exception_to）"
        "或`优先于`（prevails_over）",
        "{advice}",
    ),
    "unit_as_written": _W(
        "请按所引条款的写法写单位名称，或引用写有该单位的条款",
        "name the unit as the cited clause writes it, or cite the clause that names it",
    ),
    "source_region": _W(
        "请用来源文件元数据中的地区（policies/sources/<id>.yaml）",
        "use the region of the source's metadata (policies/sources/<id>.yaml)",
    ),
}

# How the parser names what it expected or found, by lark terminal.
TERMINALS: dict[str, Wording] = {
    "NAME": _W("名称", "a name"),
    "STRING": _W('加引号的字符串 "…"', 'a quoted string "…"'),
    "CLAUSE": _W("条款编号（如 二.4）", "a clause id such as 二.4"),
    "QUANTITY": _W("数量（如 1000万元）", "a quantity such as 1000万元"),
    "NUMBER": _W("数字", "a number"),
    "DATE": _W("日期（如 2023-08-02）", "a date such as 2023-08-02"),
    "UNIT": _W(
        "单位（元、万元、亿元、平方米、亩、公顷、平方公里、%）",
        "a unit (元, 万元, 亿元, 平方米, 亩, 公顷, 平方公里, %)",
    ),
    "$END": _W("文件结尾", "end of file"),
}

# A field's type as the schema spells it (the grammar's `ftype` keywords).
FIELD_KINDS: dict[str, Wording] = {
    "bool": _W("布尔", "bool"),
    "text": _W("文本", "text"),
    "region": _W("行政区", "region"),
    "date": _W("日期", "date"),
    "number": _W("数值", "number"),
    "enum": _W("枚举", "enum"),
}

# What a comparison operator means, said of a bound.
BOUNDS: dict[str, Wording] = {
    ">=": _W("大于等于（含本数）", ">="),
    ">": _W("大于（不含本数）", ">"),
    "<=": _W("小于等于（含本数）", "<="),
    "<": _W("小于（不含本数）", "<"),
}

_STRENGTHS = {
    Strength.MANDATORY: _W("强制性", "mandatory"),
    Strength.PRESUMPTIVE: _W("原则性（原则上、一般）", "presumptive (原则上 / 一般)"),
    Strength.BY_LAW: _W("依法（依法、按规定）", "by law (依法 / 按规定)"),
    Strength.DISCRETIONARY: _W(
        "可为性（可、鼓励、支持、优先）", "discretionary (可 / 鼓励 / 支持 / 优先)"
    ),
}
_ROLES = {
    Role.LEAD: _W("牵头", "牵头 (lead)"),
    Role.RESPONSIBLE: _W("责任", "责任 (responsible)"),
    Role.ASSISTING: _W("配合", "配合 (assisting)"),
}


def dimension(name: str) -> Wording:
    """A quantity's dimension (money, area …), as dsl.units names it."""
    return _W(DIMENSION_LABELS.get(name, name), name)


def diagnostic(
    code: Code,
    span: Span,
    variant: str = "",
    /,
    *,
    hint: Wording = NO_HINT,
    expected: Sequence[Wording] = (),
    **facts: Fact,
) -> Diagnostic:
    """The diagnostic `code` gives in `variant`, written from `facts` in both languages."""
    said = say(code, variant, **facts)
    return Diagnostic(
        code,
        said.zh,
        span,
        tuple(e.zh for e in expected),
        hint.zh,
        message_en=said.en,
        hint_en=hint.en,
    )


def say(code: Code, variant: str = "", /, **facts: Fact) -> Wording:
    return _fill(MESSAGES[code][variant], facts)


def advise(name: str, /, **facts: Fact) -> Wording:
    return _fill(HINTS[name], facts)


def did_you_mean(near: Sequence[str]) -> Wording:
    """The nearest names as a hint, or none when nothing is near."""
    return advise("did_you_mean", near=near) if near else NO_HINT


def fields(template: str) -> set[str]:
    """The named fields a template fills."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _fill(template: Wording, facts: dict[str, Fact]) -> Wording:
    return Wording(
        template.zh.format_map({k: _spell(v, "zh") for k, v in facts.items()}),
        template.en.format_map({k: _spell(v, "en") for k, v in facts.items()}),
    )


def _spell(fact: Fact, lang: str) -> str:
    if isinstance(fact, Wording):
        return fact.zh if lang == "zh" else fact.en
    if isinstance(fact, Outcome):
        return OUTCOME_KEYWORDS[fact][lang] if fact in OUTCOME_KEYWORDS else str(fact)
    if isinstance(fact, Strength):
        return _spell(_STRENGTHS[fact], lang)
    if isinstance(fact, Role):
        return _spell(_ROLES[fact], lang)
    if isinstance(fact, str | int | float):
        return str(fact)
    return ("、" if lang == "zh" else ", ").join(_spell(x, lang) for x in fact)
