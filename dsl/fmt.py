"""The canonical form of a policy file. fmt then parse gives back an equal AST."""

from __future__ import annotations

import re

from dsl import ast
from dsl.vocabulary import OUTCOME_KEYWORDS, STRENGTH_KEYWORDS, Outcome, Strength

# English keyword -> its Chinese spelling. The outcome and strength words are the vocabulary's
# tables, the ones the parser reads them by.
KEYWORDS = {
    "policy": "政策",
    "source": "来源",
    "title": "标题",
    "doc_number": "文号",
    "issuer": "发布机关",
    "region": "地区",
    "issued": "发布",
    "effective": "施行",
    "until": "至",
    "trial": "试行",
    "schema": "模式",
    "field": "字段",
    "default": "默认",
    "required": "必填",
    "bool": "布尔",
    "text": "文本",
    "region_path": "行政区",
    "date": "日期",
    "number": "数值",
    "enum": "枚举",
    "param": "参数",
    "unspecified": "未规定",
    "rule": "规则",
    "exception_to": "例外",
    "prevails_over": "优先于",
    "when": "当",
    "then": "则",
    **{spelling["en"]: spelling["zh"] for spelling in STRENGTH_KEYWORDS.values()},
    **{spelling["en"]: spelling["zh"] for spelling in OUTCOME_KEYWORDS.values()},
    "exception_route": "例外途径",
    "step": "步骤",
    "obligation": "义务",
    "benefit": "奖励",
    "note": "注",
    "cite": "依据",
    "route": "分工",
    "matter": "事项",
    "lead": "牵头",
    "responsible": "责任",
    "assisting": "配合",
    "as": "即",
    "skip": "不编码",
    "unreviewed": "待审",
    "or": "或",
    "and": "且",
    "not": "非",
    "is": "是",
    "is_not": "不是",
    "in": "属于",
    "within": "位于",
    "contains": "包含",
    "in_industry": "属于行业",
    "project": "项目",
    "true": "真",
    "false": "假",
}
# Other spellings the parser accepts for a keyword; the formatter writes KEYWORDS' spelling.
ALIASES = {"协助": "assisting", "协办": "assisting"}
RESERVED = (
    set(KEYWORDS)
    | set(KEYWORDS.values())
    | set(ALIASES)
    | {
        "at_least",
        "at_most",
        "more_than",
        "less_than",
        "以上",
        "以下",
        "以内",
        "不低于",
        "不少于",
        "不超过",
        "不高于",
        "超过",
        "高于",
        "不足",
        "低于",
    }
)
_NAME = re.compile(r"[^\W\d][\w\-]*")

# Keywords that can follow a word somewhere in the grammar. LALR merges the states after a
# word, so the token after a word is lexed while all of these are acceptable: a step's second
# word (the one place a word follows a word) must be quoted when it is one of them.
_AFTER_A_WORD = (
    "and",
    "or",
    "then",
    "step",
    "obligation",
    "benefit",
    "note",
    "exception_route",
    "responsible",
    "assisting",
    "policy",
    "schema",
    "param",
    "rule",
    "route",
    "skip",
    "unreviewed",
)
FOLLOWS_A_WORD = (
    frozenset(_AFTER_A_WORD)
    | {KEYWORDS[k] for k in _AFTER_A_WORD}
    | {alias for alias, k in ALIASES.items() if k in _AFTER_A_WORD}
)


class Writer:
    def __init__(self, lang: str) -> None:
        self.lang = lang

    def kw(self, word: str) -> str:
        return KEYWORDS[word] if self.lang == "zh" else word

    def outcome(self, outcome: Outcome) -> str:
        return OUTCOME_KEYWORDS[outcome][self.lang]

    def strength(self, strength: Strength) -> str:
        """The strength's word after `then`; mandatory has none."""
        return "" if strength == Strength.MANDATORY else STRENGTH_KEYWORDS[strength][self.lang]

    # -- expressions ----------------------------------------------------------------------
    def expr(self, e: ast.Expr, parent: int = 0) -> str:
        # precedence: or 1, and 2, not/atoms 3; parenthesise a looser child.
        if isinstance(e, ast.Or):
            text, prec = f" {self.kw('or')} ".join(self.expr(x, 1) for x in e.items), 1
        elif isinstance(e, ast.And):
            text, prec = f" {self.kw('and')} ".join(self.expr(x, 2) for x in e.items), 2
        elif isinstance(e, ast.Not):
            return f"{self.kw('not')} {self.expr(e.item, 3)}"
        else:
            return self.atom(e)
        return f"({text})" if prec <= parent else text

    def atom(self, e: ast.Atom) -> str:
        f = f"{self.kw('project')}.{e.field.name}"
        if isinstance(e, ast.Truth):
            return f
        if isinstance(e, ast.Compare):
            operand = e.operand.name if isinstance(e.operand, ast.ParamRef) else str(e.operand)
            return f"{f} {e.op} {operand}"
        if isinstance(e, ast.IsValue):
            return f"{f} {self.kw('is_not' if e.negated else 'is')} {word(e.value)}"
        if isinstance(e, ast.InSet):
            return f"{f} {self.kw('in')} {{{', '.join(word(v) for v in e.values)}}}"
        if isinstance(e, ast.Within):
            return f"{f} {self.kw('within')} {quote(e.region)}"
        if isinstance(e, ast.InIndustry):
            return f"{f} {self.kw('in_industry')} {{{', '.join(word(c) for c in e.codes)}}}"
        return f"{f} {self.kw('contains')} {', '.join(quote(p) for p in e.phrases)}"

    # -- items ----------------------------------------------------------------------------
    def cite(self, c: ast.Cite) -> str:
        return f"  {self.kw('cite')} {c.clause} {quote(c.quote)}"

    def header(self, h: ast.PolicyHeader) -> list[str]:
        out = [f"{self.kw('policy')} {h.id} {{"]
        if h.source:
            out.append(f"  {self.kw('source')} {h.source}")
        for key, value in (
            ("title", h.title),
            ("doc_number", h.doc_number),
            ("issuer", h.issuer),
            ("region", h.region),
        ):
            if value or key == "doc_number":
                out.append(f"  {self.kw(key)} {quote(value)}")
        if h.issued:
            out.append(f"  {self.kw('issued')} {h.issued}")
        if h.effective_from:
            line = f"  {self.kw('effective')} {h.effective_from}"
            if h.effective_until:
                line += f" {self.kw('until')} {h.effective_until}"
            if h.trial:
                line += f" {self.kw('trial')}"
            out.append(line)
        out.append("}")
        return out

    def param(self, p: ast.Param) -> list[str]:
        value = str(p.value) if p.value is not None else f"{self.kw('unspecified')} {p.unit}"
        out = [f"{self.kw('param')} {p.name} = {value}"]
        out += [self.cite(c) for c in p.cites]
        out += [f"  {self.kw('note')} {quote(n)}" for n in p.notes]
        return out

    def rule(self, r: ast.Rule) -> list[str]:
        head = f"{self.kw('rule')} {r.name}" + (f" {quote(r.title)}" if r.title else "")
        out = [head] + [self.cite(c) for c in r.cites]
        out += [self.priority("exception_to", p) for p in r.exception_to]
        out += [self.priority("prevails_over", p) for p in r.prevails_over]
        out.append(f"  {self.kw('when')} {self.expr(r.when)}")
        then = [self.kw("then"), self.strength(r.strength)]
        then.append(self.outcome(r.outcome) if r.outcome else "")
        out.append("  " + " ".join(w for w in then if w))
        out += [f"    {self.kw('exception_route')} {quote(e)}" for e in r.exception_routes]
        out += [f"    {self.kw('step')} {word(s.authority)} {action(s.action)}" for s in r.steps]
        out += [f"    {self.kw('obligation')} {quote(o)}" for o in r.obligations]
        out += [f"    {self.kw('benefit')} {quote(b)}" for b in r.benefits]
        out += [f"    {self.kw('note')} {quote(n)}" for n in r.notes]
        return out

    def priority(self, key: str, p: ast.Priority) -> str:
        return f"  {self.kw(key)} {p.target} {self.cite(p.cite).strip()}"

    def units(self, key: str, u: ast.Units | None) -> list[str]:
        if u is None:
            return []
        line = f"  {self.kw(key)} {quote(u.original)}"
        if u.names:
            line += f" {self.kw('as')} " + ", ".join(word(n) for n in u.names)
        return [line]

    def unreviewed(self, item: ast.Route | ast.Skip) -> str:
        return f"{self.kw('unreviewed')} " if item.unreviewed else ""

    def route(self, r: ast.Route) -> list[str]:
        head = f"{self.unreviewed(r)}{self.kw('route')} {r.name}"
        head += f" {quote(r.title)}" if r.title else ""
        out = [head] + [self.cite(c) for c in r.cites]
        out.append(f"  {self.kw('matter')} " + ", ".join(quote(m) for m in r.matters))
        out += self.units("lead", r.lead) + self.units("responsible", r.responsible)
        out += self.units("assisting", r.assisting)
        out += [f"  {self.kw('note')} {quote(n)}" for n in r.notes]
        return out

    def schema(self, s: ast.Schema) -> list[str]:
        out = [f"{self.kw('schema')} {s.name} {quote(s.label)} {{"]
        for f in s.fields:
            t = f.type
            if t.kind == "enum":
                out.append(f"  {self.kw('field')} {f.name} {quote(f.label)}: {self.kw('enum')} {{")
                out += [f"    {v.name} {quote(v.label)}" for v in t.values]
                line = "  }"
            else:
                kind = {"region": "region_path"}.get(t.kind, t.kind)
                unit = f" {t.unit}" if t.unit else ""
                line = f"  {self.kw('field')} {f.name} {quote(f.label)}: {self.kw(kind)}{unit}"
            if f.default is not None:
                line += f" {self.kw('default')} {self.literal(f.default)}"
            if f.required:
                line += f" {self.kw('required')}"
            out.append(line)
        out.append("}")
        return out

    def literal(self, lit: ast.Literal) -> str:
        if lit.kind == "bool":
            return self.kw(lit.value)
        return quote(lit.value) if lit.kind == "string" else lit.value

    def item(self, item: ast.Item) -> list[str]:
        if isinstance(item, ast.PolicyHeader):
            return self.header(item)
        if isinstance(item, ast.Schema):
            return self.schema(item)
        if isinstance(item, ast.Param):
            return self.param(item)
        if isinstance(item, ast.Rule):
            return self.rule(item)
        if isinstance(item, ast.Route):
            return self.route(item)
        return [f"{self.unreviewed(item)}{self.kw('skip')} {item.clause} {quote(item.reason)}"]


def quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r") + '"'


def action(text: str) -> str:
    return quote(text) if text in FOLLOWS_A_WORD else word(text)


def word(text: str) -> str:
    """A bare word where the grammar reads it back as the same name, else a string. Keywords
    are fine bare: where a word is expected, the contextual lexer accepts only names."""
    return text if _NAME.fullmatch(text) else quote(text)


def format_module(module: ast.Module) -> str:
    """Canonical text. Each comment stays above the item it was in or before; a comment at
    the end of a line inside an item moves to the line above that item."""
    w = Writer(module.lang)
    pending = list(module.comments)
    blocks = []
    for item in module.items:
        lines = []
        while pending and pending[0][0] <= item.span.end_line:
            lines.append(pending.pop(0)[1])
        lines += w.item(item)
        blocks.append("\n".join(lines))
    if pending:
        blocks.append("\n".join(text for _, text in pending))
    return "\n\n".join(blocks) + "\n"


def format_expr(e: ast.Expr, lang: str = "zh") -> str:
    return Writer(lang).expr(e)


def format_atom(e: ast.Atom, lang: str = "zh") -> str:
    return Writer(lang).atom(e)
