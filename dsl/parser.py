"""Text to AST: parse with lark (LALR, contextual lexer), then transform into `dsl.ast`.

No lark Tree or Token leaves this module; every failure is a `DslError` with a location.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import (
    LarkError,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)
from lark.lexer import PatternStr

from dsl import ast
from dsl.diagnostic_text import NO_HINT, TERMINALS, Wording, advise, diagnostic
from dsl.errors import Diagnostic, DslError, Span
from dsl.units import parse_quantity
from dsl.vocabulary import (
    Code,
    Outcome,
    Role,
    Strength,
    outcome_of_keyword,
    strength_of_keyword,
)

_ZH_FIRST_KEYWORD = re.compile(r"^\s*(政策|模式|规则|参数|分工|不编码)\b", re.MULTILINE)
_EN_FIRST_KEYWORD = re.compile(r"^\s*(policy|schema|rule|param|route|skip)\b", re.MULTILINE)


@cache
def _lark() -> Lark:
    grammar = resources.files("dsl").joinpath("grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", propagate_positions=True)


def parse(text: str, path: str = "<text>") -> ast.Module:
    """Parse one file. Raises DslError (code parse_error) on any syntax error."""
    try:
        tree = _lark().parse(text)
        items = _ToAst(path).transform(tree)
    except UnexpectedInput as e:
        raise DslError([_syntax_diagnostic(e, text, path)]) from None
    except VisitError as e:
        if isinstance(e.orig_exc, DslError):
            raise e.orig_exc from None
        raise
    except RecursionError:
        raise DslError([diagnostic(Code.TOO_DEEP, Span(path, 1, 1))]) from None
    except LarkError as e:  # lark's own internal failures must not escape as tracebacks
        raise DslError(
            [diagnostic(Code.PARSE_ERROR, Span(path), "internal", error=str(e))]
        ) from None
    return ast.Module(path, tuple(items), _language(text), _comments(text))


def _comments(text: str) -> tuple[tuple[int, str], ...]:
    found = []
    # Lines as lark counts them: only \n ends a line (other line breaks may sit in strings).
    for number, line in enumerate(text.split("\n"), 1):
        in_string, escaped = False, False
        for i, ch in enumerate(line):
            if escaped:
                escaped = False
            elif ch == "\\" and in_string:
                escaped = True
            elif ch == '"':
                in_string = not in_string
            elif ch == "#" and not in_string:
                found.append((number, line[i:].rstrip()))
                break
    return tuple(found)


def _language(text: str) -> str:
    zh, en = _ZH_FIRST_KEYWORD.search(text), _EN_FIRST_KEYWORD.search(text)
    if zh and (not en or zh.start() < en.start()):
        return "zh"
    return "en"


@cache
def _twins() -> dict[str, str]:
    """English keyword -> its Chinese spelling, read off the grammar's `("en" | "中")` pairs."""
    grammar = resources.files("dsl").joinpath("grammar.lark").read_text(encoding="utf-8")
    return dict(re.findall(r'"([a-z_]+)" \| "([^"a-z]+)"', grammar))


def _describe(terminal: str) -> Wording:
    if terminal in TERMINALS:
        return TERMINALS[terminal]
    term = next((t for t in _lark().terminals if t.name == terminal), None)
    if term is not None and isinstance(term.pattern, PatternStr):
        return _keyword(term.pattern.value)
    return Wording(terminal, terminal)


def _keyword(word: str) -> Wording:
    """A keyword as each language names it: the Chinese spelling first in Chinese."""
    twin = _twins().get(word)
    if twin is None:
        return Wording(f"‘{word}’", f"'{word}'")
    return Wording(f"‘{twin}’（{word}）", f"'{word}' ({twin})")


_END = TERMINALS["$END"]


def _syntax_diagnostic(e: UnexpectedInput, text: str, path: str) -> Diagnostic:
    line, column = max(e.line, 1) if e.line else 1, max(e.column, 1) if e.column else 1
    expected: set[str] = set()
    found: Wording
    if isinstance(e, UnexpectedToken):
        expected = set(e.accepts or e.expected)
        value = str(e.token.value)
        found = _END if e.token.type == "$END" else Wording(f"‘{value}’", f"'{value}'")
        width = len(value) if e.token.type != "$END" else 1
        if e.token.type == "$END":
            line, column = _end_position(text)
    elif isinstance(e, UnexpectedCharacters):
        expected = set(e.allowed or ())
        pos = e.pos_in_stream or 0
        char = text[pos] if pos < len(text) else "?"
        found = Wording(f"字符‘{char}’", f"character '{char}'")
        width = 1
    elif isinstance(e, UnexpectedEOF):
        expected = set(e.expected)
        found = _END
        line, column = _end_position(text)
        width = 1
    else:
        found, width = Wording("这段文字", "input"), 1
    described = sorted(
        {_describe(t) for t in expected if t not in _twins().values()}, key=lambda w: w.en
    )
    span = Span(path, line, column, line, column + width)
    if not described:
        return diagnostic(Code.PARSE_ERROR, span, "unexpected", found=found, hint=_hint(found))
    # A rule's cites may be followed by four keywords; a longer list goes below the message.
    if len(described) > 4:
        return diagnostic(
            Code.PARSE_ERROR,
            span,
            "unexpected_of",
            found=found,
            tokens=described,
            expected=described,
            hint=_hint(found),
        )
    *others, last = [d.zh for d in described]
    listed = Wording(
        "、".join(others) + ("或" if others else "") + last, " or ".join(d.en for d in described)
    )
    return diagnostic(
        Code.PARSE_ERROR,
        span,
        "expected",
        found=found,
        tokens=listed,
        expected=described,
        hint=_hint(found),
    )


def _end_position(text: str) -> tuple[int, int]:
    lines = text.splitlines() or [""]
    return len(lines), len(lines[-1]) + 1


def _hint(found: Wording) -> Wording:
    if any(ch in found.en for ch in "“”：，（）｛｝＝"):
        return advise("full_width")
    return NO_HINT


def _span(path: str, meta: Any) -> Span:
    if getattr(meta, "empty", True):
        return Span(path)
    return Span(path, meta.line, meta.column, meta.end_line, meta.end_column)


def _tspan(path: str, tok: Token) -> Span:
    return Span(path, tok.line or 0, tok.column or 0, tok.end_line or 0, tok.end_column or 0)


_ESCAPES = {"n": "\n", "r": "\r"}


def _unquote(tok: Token) -> str:
    body = str(tok)[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def _word(node: Any) -> str:
    tok = node.children[0] if isinstance(node, Tree) else node
    if not isinstance(tok, Token):  # the grammar's `word` is always a single token
        raise TypeError(f"unexpected word node {tok!r}")
    return _unquote(tok) if tok.type == "STRING" else str(tok)


@v_args(meta=True)
class _ToAst(Transformer[Token, Any]):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def _s(self, meta: Any) -> Span:
        return _span(self.path, meta)

    # -- file ---------------------------------------------------------------------------
    def start(self, meta: Any, items: list[Any]) -> list[Any]:
        return items

    # -- header -------------------------------------------------------------------------
    def policy(self, meta: Any, c: list[Any]) -> ast.PolicyHeader:
        values: dict[str, Any] = {}
        for key, value in c[1:]:
            if key in values:
                said = _keyword(key)
                raise DslError(
                    [diagnostic(Code.DUPLICATE_HEADER, self._s(meta), key=Wording(said.zh, key))]
                )
            values[key] = value
        effective = values.pop("effective", ("", "", False))
        return ast.PolicyHeader(
            id=str(c[0]),
            effective_from=effective[0],
            effective_until=effective[1],
            trial=effective[2],
            span=self._s(meta),
            **values,
        )

    def source(self, meta: Any, c: list[Any]) -> tuple[str, str]:
        return ("source", str(c[0]))

    def title(self, meta: Any, c: list[Any]) -> tuple[str, str]:
        return ("title", _unquote(c[0]))

    def doc_number(self, meta: Any, c: list[Any]) -> tuple[str, str]:
        return ("doc_number", _unquote(c[0]))

    def issuer(self, meta: Any, c: list[Any]) -> tuple[str, str]:
        return ("issuer", _unquote(c[0]))

    def region(self, meta: Any, c: list[Any]) -> tuple[str, str]:
        return ("region", _unquote(c[0]))

    def issued(self, meta: Any, c: list[Any]) -> tuple[str, str]:
        return ("issued", str(c[0]))

    def effective(self, meta: Any, c: list[Any]) -> tuple[str, tuple[str, str, bool]]:
        start, until, trial = c
        return ("effective", (str(start), str(until) if until else "", trial is not None))

    def trial(self, meta: Any, c: list[Any]) -> bool:
        return True

    # -- schema -------------------------------------------------------------------------
    def schema(self, meta: Any, c: list[Any]) -> ast.Schema:
        return ast.Schema(str(c[0]), _unquote(c[1]), tuple(c[2:]), self._s(meta))

    def field(self, meta: Any, c: list[Any]) -> ast.FieldDef:
        name, label, ftype, default, required = c
        return ast.FieldDef(
            str(name), _unquote(label), ftype, default, required is not None, self._s(meta)
        )

    def default(self, meta: Any, c: list[Any]) -> ast.Literal:
        lit: ast.Literal = c[0]
        return lit

    def required(self, meta: Any, c: list[Any]) -> bool:
        return True

    def t_bool(self, meta: Any, c: list[Any]) -> ast.FieldType:
        return ast.FieldType("bool")

    def t_text(self, meta: Any, c: list[Any]) -> ast.FieldType:
        return ast.FieldType("text")

    def t_region(self, meta: Any, c: list[Any]) -> ast.FieldType:
        return ast.FieldType("region")

    def t_date(self, meta: Any, c: list[Any]) -> ast.FieldType:
        return ast.FieldType("date")

    def t_number(self, meta: Any, c: list[Any]) -> ast.FieldType:
        return ast.FieldType("number", unit=str(c[0]) if c[0] else "")

    def t_enum(self, meta: Any, c: list[Any]) -> ast.FieldType:
        return ast.FieldType("enum", values=tuple(c))

    def enum_value(self, meta: Any, c: list[Any]) -> ast.EnumValue:
        return ast.EnumValue(str(c[0]), _unquote(c[1]))

    def l_quantity(self, meta: Any, c: list[Any]) -> ast.Literal:
        return ast.Literal("quantity", str(c[0]))

    def l_string(self, meta: Any, c: list[Any]) -> ast.Literal:
        return ast.Literal("string", _unquote(c[0]))

    def l_date(self, meta: Any, c: list[Any]) -> ast.Literal:
        return ast.Literal("date", str(c[0]))

    def l_true(self, meta: Any, c: list[Any]) -> ast.Literal:
        return ast.Literal("bool", "true")

    def l_false(self, meta: Any, c: list[Any]) -> ast.Literal:
        return ast.Literal("bool", "false")

    # -- parameters ---------------------------------------------------------------------
    def param(self, meta: Any, c: list[Any]) -> ast.Param:
        name, (value, unit), *rest = c
        cites = tuple(x for x in rest if isinstance(x, ast.Cite))
        notes = tuple(x[1] for x in rest if isinstance(x, tuple))
        return ast.Param(str(name), value, unit, cites, notes, self._s(meta))

    def p_known(self, meta: Any, c: list[Any]) -> tuple[Any, str]:
        q = c[0]
        return (q, q.unit)

    def p_unspecified(self, meta: Any, c: list[Any]) -> tuple[Any, str]:
        return (None, str(c[0]))

    def quantity(self, meta: Any, c: list[Any]) -> Any:
        return parse_quantity(str(c[0]))

    # -- rules --------------------------------------------------------------------------
    def rule(self, meta: Any, c: list[Any]) -> ast.Rule:
        name, title, *rest = c

        def tagged(tag: str, items: list[Any]) -> tuple[Any, ...]:
            return tuple(x[1] for x in items if isinstance(x, tuple) and x[0] == tag)

        # Cites and priorities (tagged tuples) come first, then the condition, the strength and
        # the outcome (each None when left out), then the consequences.
        head = next(i for i, x in enumerate(rest) if not isinstance(x, ast.Cite | tuple))
        declared = rest[:head]
        when, strength, outcome, *extras = rest[head:]
        return ast.Rule(
            name=str(name),
            title=_unquote(title) if title else "",
            cites=tuple(x for x in declared if isinstance(x, ast.Cite)),
            when=when,
            outcome=outcome,
            steps=tuple(x for x in extras if isinstance(x, ast.Step)),
            obligations=tagged("obl", extras),
            benefits=tagged("ben", extras),
            notes=tagged("note", extras),
            strength=strength or Strength.MANDATORY,
            exception_to=tagged("exception_to", declared),
            prevails_over=tagged("prevails_over", declared),
            exception_routes=tagged("exception_route", extras),
            span=self._s(meta),
            name_span=_tspan(self.path, name),
        )

    def exception_to(self, meta: Any, c: list[Any]) -> tuple[str, ast.Priority]:
        return ("exception_to", ast.Priority(c[0], c[1], self._s(meta)))

    def prevails_over(self, meta: Any, c: list[Any]) -> tuple[str, ast.Priority]:
        return ("prevails_over", ast.Priority(c[0], c[1], self._s(meta)))

    def target(self, meta: Any, c: list[Any]) -> str:
        return "/".join(str(t) for t in c if t is not None)

    def strength(self, meta: Any, c: list[Any]) -> Strength:
        return strength_of_keyword(str(c[0]))

    def outcome(self, meta: Any, c: list[Any]) -> Outcome:
        return outcome_of_keyword(str(c[0]))

    def exception_route(self, meta: Any, c: list[Any]) -> tuple[str, str]:
        return ("exception_route", _unquote(c[0]))

    def step(self, meta: Any, c: list[Any]) -> ast.Step:
        return ast.Step(_word(c[0]), _word(c[1]), self._s(meta))

    def obligation(self, meta: Any, c: list[Any]) -> tuple[str, str]:
        return ("obl", _unquote(c[0]))

    def benefit(self, meta: Any, c: list[Any]) -> tuple[str, str]:
        return ("ben", _unquote(c[0]))

    def note(self, meta: Any, c: list[Any]) -> tuple[str, str]:
        return ("note", _unquote(c[0]))

    def cite(self, meta: Any, c: list[Any]) -> ast.Cite:
        return ast.Cite(str(c[0]), _unquote(c[1]), self._s(meta), _tspan(self.path, c[1]))

    # -- routes -------------------------------------------------------------------------
    def route(self, meta: Any, c: list[Any]) -> ast.Route:
        unreviewed, name, title, *rest = c

        def role(which: Role) -> ast.Units | None:
            return next((x[1] for x in rest if isinstance(x, tuple) and x[0] == which), None)

        return ast.Route(
            name=str(name),
            title=_unquote(title) if title else "",
            cites=tuple(x for x in rest if isinstance(x, ast.Cite)),
            matters=tuple(next(x for x in rest if isinstance(x, list))),
            lead=role(Role.LEAD),
            responsible=role(Role.RESPONSIBLE),
            assisting=role(Role.ASSISTING),
            notes=tuple(x[1] for x in rest if isinstance(x, tuple) and x[0] == "note"),
            span=self._s(meta),
            unreviewed=unreviewed is not None,
        )

    def matter(self, meta: Any, c: list[Any]) -> list[str]:
        return [_unquote(t) for t in c]

    def lead(self, meta: Any, c: list[Any]) -> tuple[Role, ast.Units]:
        return (Role.LEAD, c[0])

    def responsible(self, meta: Any, c: list[Any]) -> tuple[Role, ast.Units]:
        return (Role.RESPONSIBLE, c[0])

    def assisting(self, meta: Any, c: list[Any]) -> tuple[Role, ast.Units]:
        return (Role.ASSISTING, c[0])

    def units(self, meta: Any, c: list[Any]) -> ast.Units:
        names = tuple(_word(w) for w in c[1:] if w is not None)
        return ast.Units(_unquote(c[0]), names, self._s(meta))

    def unreviewed(self, meta: Any, c: list[Any]) -> bool:
        return True

    def skip(self, meta: Any, c: list[Any]) -> ast.Skip:
        unreviewed, clause, reason = c
        return ast.Skip(str(clause), _unquote(reason), self._s(meta), unreviewed is not None)

    # -- conditions ---------------------------------------------------------------------
    def or_expr(self, meta: Any, c: list[Any]) -> ast.Or:
        return ast.Or(tuple(c), self._s(meta))

    def and_expr(self, meta: Any, c: list[Any]) -> ast.And:
        return ast.And(tuple(c), self._s(meta))

    def negation(self, meta: Any, c: list[Any]) -> ast.Not:
        return ast.Not(c[0], self._s(meta))

    def truth(self, meta: Any, c: list[Any]) -> ast.Truth:
        return ast.Truth(c[0], self._s(meta))

    def compare(self, meta: Any, c: list[Any]) -> ast.Compare:
        field, op, (operand, ospan) = c
        return ast.Compare(field, op, operand, self._s(meta), ospan)

    def cmp(self, meta: Any, c: list[Any]) -> str:
        return str(c[0])

    def o_quantity(self, meta: Any, c: list[Any]) -> tuple[Any, Span]:
        return (c[0], self._s(meta))

    def o_param(self, meta: Any, c: list[Any]) -> tuple[Any, Span]:
        span = _tspan(self.path, c[0])
        return (ast.ParamRef(str(c[0]), span), span)

    def is_value(self, meta: Any, c: list[Any]) -> ast.IsValue:
        return ast.IsValue(c[0], _word(c[1]), False, self._s(meta), self._s(c[1].meta))

    def is_not_value(self, meta: Any, c: list[Any]) -> ast.IsValue:
        return ast.IsValue(c[0], _word(c[1]), True, self._s(meta), self._s(c[1].meta))

    def in_set(self, meta: Any, c: list[Any]) -> ast.InSet:
        return ast.InSet(c[0], tuple(_word(w) for w in c[1:]), self._s(meta))

    def within(self, meta: Any, c: list[Any]) -> ast.Within:
        return ast.Within(c[0], _unquote(c[1]), self._s(meta))

    def contains(self, meta: Any, c: list[Any]) -> ast.Contains:
        return ast.Contains(c[0], tuple(_unquote(t) for t in c[1:]), self._s(meta))

    def in_industry(self, meta: Any, c: list[Any]) -> ast.InIndustry:
        return ast.InIndustry(c[0], tuple(_word(w) for w in c[1:]), self._s(meta))

    def field_ref(self, meta: Any, c: list[Any]) -> ast.FieldRef:
        return ast.FieldRef(str(c[0]), _tspan(self.path, c[0]))
