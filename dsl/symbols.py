"""What is where in a policy file's text, for an editor: the token under the cursor, what it
names (a field, a clause, a quote, a unit, a name) and where the file defines a name.

Editors ask about text that is mid-edit and seldom parses, so nothing here needs a parse: a
scan that lexes as the grammar does (strings, comments, the clause id after 依据/cite or
不编码/skip, names, punctuation) and looks at the few tokens before the cursor is enough.
Positions are 0-based lines and 0-based columns in characters (code points); lines end at
"\n" only, as lark counts them.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# The keywords that decide what a token is, in both spellings. tests/test_lsp.py checks that
# each is a keyword of dsl/grammar.lark, so a renamed keyword fails there, not silently here.
CITE = frozenset({"cite", "依据"})
SKIP = frozenset({"skip", "不编码"})
FIELD_REF = frozenset({"project", "项目"})
IS = frozenset({"is", "是", "is_not", "不是"})
IN_SET = frozenset({"in", "属于"})
ROLES = frozenset({"lead", "牵头", "responsible", "责任", "assisting", "配合", "协助", "协办"})
AS = frozenset({"as", "即"})
SOURCE = frozenset({"source", "来源"})
ROUTE = frozenset({"route", "分工"})
# Each kind of name a file defines, by the keyword that defines it.
DEFINING = {
    "policy": frozenset({"policy", "政策"}),
    "rule": frozenset({"rule", "规则"}),
    "param": frozenset({"param", "参数"}),
    "route": frozenset({"route", "分工"}),
    "field": frozenset({"field", "字段"}),
}
# The keywords that start a top-level item: a route's units end at the next one.
ITEMS = frozenset({"policy", "政策", "schema", "模式", "rule", "规则", "param", "参数"}) | (
    ROUTE | SKIP
)

_CLAUSE = re.compile(r'[^\s"#{}]+')  # the grammar's CLAUSE
_WORD = re.compile(r"[\w\-.]+")  # NAME, numbers, dates, and 项目.字段 as one word
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"?')  # an unterminated string runs to the line's end
_OPERATOR = re.compile(r">=|<=|[<>=]")
_REST = re.compile(r".*")
_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class Token:
    kind: str  # word | string | clause | comment | punct
    text: str
    line: int
    start: int
    end: int  # exclusive

    def contains(self, line: int, column: int) -> bool:
        """The cursor is on the token or right after its last character."""
        return self.line == line and self.start <= column <= self.end

    @property
    def value(self) -> str:
        """A string's text without its quotes and escapes; any other token's text."""
        if self.kind != "string":
            return self.text
        body = self.text[1:-1] if len(self.text) > 1 and self.text.endswith('"') else self.text[1:]
        return _ESCAPE.sub(r"\1", body)


def scan(text: str) -> list[Token]:
    """Every token of the text, comments included, in order."""
    tokens: list[Token] = []
    for number, line in enumerate(text.split("\n")):
        i = 0
        while i < len(line):
            if line[i].isspace():
                i += 1
                continue
            previous = next((t for t in reversed(tokens) if t.kind != "comment"), None)
            kind, pattern = _kind_at(line, i, previous)
            m = pattern.match(line, i)
            if m is None or m.end() <= i:  # e.g. full-width punctuation outside a string
                kind, end = "punct", i + 1
            else:
                end = m.end()
            tokens.append(Token(kind, line[i:end], number, i, end))
            i = end
    return tokens


def _kind_at(line: str, i: int, previous: Token | None) -> tuple[str, re.Pattern[str]]:
    if line[i] == "#":
        return "comment", _REST
    if line[i] == '"':
        return "string", _STRING
    if previous is not None and previous.kind == "word" and previous.text in CITE | SKIP:
        return "clause", _CLAUSE
    if _OPERATOR.match(line, i):
        return "punct", _OPERATOR
    return "word", _WORD


@dataclass(frozen=True)
class Place:
    """What the cursor is on, or where it is about to type.

    kind: field (`name` is the field named), enum_value (`field` is the field
    compared), clause (the clause id after a cite or skip; `quote` the cite's quote), quote
    (the quote of a cite of `clause`), unit (a unit of a route citing `clauses`), name (any
    other word: a rule, parameter, route or policy; `qualifier` its policy in policy/rule),
    or none. `token` is the token under the
    cursor (None when the cursor is in whitespace); `start`/`end` the columns the name spans.
    """

    kind: str
    token: Token | None = None
    name: str = ""
    field: str = ""
    clause: str = ""
    quote: str = ""
    clauses: tuple[str, ...] = ()
    english: bool = False  # the keyword before it is English (project., is …)
    qualifier: str = ""  # the policy of a name written policy/name
    start: int = 0
    end: int = 0


NOWHERE = Place("none")


def place_at(text: str, line: int, column: int) -> Place:
    """What is at (line, column) of the text."""
    tokens = [t for t in scan(text) if t.kind != "comment"]
    at = next((i for i, t in enumerate(tokens) if _under(t, line, column)), None)
    if at is None:
        # Between tokens: the place is where the next token will start.
        before = [i for i, t in enumerate(tokens) if (t.line, t.end) <= (line, column)]
        return _after(tokens, before[-1] + 1 if before else 0, None, column)
    return _after(tokens, at, tokens[at], column)


def _under(t: Token, line: int, column: int) -> bool:
    """The cursor is on the token, or right after a word, clause or open string being typed."""
    if t.line != line or not t.start <= column <= t.end:
        return False
    if column < t.end:
        return True
    closed = t.kind == "string" and len(t.text) > 1 and t.text.endswith('"')
    return t.kind != "punct" and not closed


def _after(tokens: Sequence[Token], at: int, token: Token | None, column: int) -> Place:
    prev = tokens[at - 1] if at > 0 else None
    start, end = (token.start, token.end) if token else (column, column)
    if token is not None and token.kind == "clause":
        # A cite's string is its quote; a skip's is the reason it is skipped.
        following = tokens[at + 1] if at + 1 < len(tokens) else None
        cited = prev is not None and prev.text in CITE
        quote = following.value if cited and following and following.kind == "string" else ""
        return Place("clause", token, clause=token.text, quote=quote, start=start, end=end)
    if token is None and prev is not None and prev.kind == "word" and prev.text in CITE | SKIP:
        return Place("clause", None, start=start, end=end)
    if token is not None and token.kind == "string" and _is_quote(tokens, at):
        clause = tokens[at - 1].text
        return Place("quote", token, clause=clause, quote=token.value, start=start, end=end)
    keyword = token is not None and token.text in ROLES | AS | ITEMS
    if not keyword and _in_units(tokens, at):
        return Place("unit", token, clauses=_route_cites(tokens, at), start=start, end=end)
    if token is not None and token.kind == "word":
        head, dot, name = token.text.partition(".")
        if dot and head in FIELD_REF:
            offset = token.start + len(head) + 1
            return Place(
                "field", token, name=name, english=head.isascii(), start=offset, end=token.end
            )
    compared = _compared_field(tokens, at)
    if compared is not None and (token is None or token.kind in ("word", "string")):
        field, english = compared
        return Place("enum_value", token, field=field, english=english, start=start, end=end)
    if token is not None and token.kind == "word":
        qualified = at >= 2 and prev is not None and prev.text == "/"
        qualifier = tokens[at - 2].text if qualified else ""
        return Place("name", token, name=token.text, qualifier=qualifier, start=start, end=end)
    return NOWHERE


def _is_quote(tokens: Sequence[Token], at: int) -> bool:
    return at >= 2 and tokens[at - 1].kind == "clause" and tokens[at - 2].text in CITE


def _in_units(tokens: Sequence[Token], at: int) -> bool:
    """Whether the token at `at` stands where a route's units go: after 牵头/责任/配合 …, after
    即/as, or after a comma in such a list."""
    i = at - 1
    while i >= 0:
        t = tokens[i]
        if t.kind == "word" and t.text in ROLES | AS:
            return True
        bare_unit = t.kind == "word" and i > 0 and tokens[i - 1].text in AS | {","}
        if not (t.kind == "string" or t.text == "," or bare_unit):
            return False
        i -= 1
    return False


def _route_cites(tokens: Sequence[Token], at: int) -> tuple[str, ...]:
    """The clauses cited by the route the token at `at` belongs to."""
    clauses: list[str] = []
    for t in reversed(tokens[:at]):
        if t.kind == "clause":
            clauses.append(t.text)
        elif t.kind == "word" and t.text in ITEMS:
            break
    return tuple(reversed(clauses))


def _compared_field(tokens: Sequence[Token], at: int) -> tuple[str, bool] | None:
    """The field whose value the token at `at` gives (`项目.行业 是 ▮`, `项目.行业 属于 {a, ▮`),
    and whether the field was written in English; None elsewhere."""
    i = at - 1
    if not (i >= 1 and tokens[i].kind == "word" and tokens[i].text in IS):
        # Back over the values a set already lists, to its "{".
        while i >= 1 and (tokens[i].text == "," or tokens[i - 1].text in ("{", ",")):
            i -= 1
        if not (i >= 1 and tokens[i].text == "{" and tokens[i - 1].text in IN_SET):
            return None
        i -= 1
    head, dot, name = tokens[i - 1].text.partition(".")
    if tokens[i - 1].kind != "word" or not dot or head not in FIELD_REF:
        return None
    return name, head.isascii()


@dataclass(frozen=True)
class Definition:
    kind: str  # policy | rule | param | route | field
    name: str
    line: int
    start: int
    end: int
    label: str = ""  # a field's Chinese label, which rules may use instead of its name


def definitions(text: str) -> list[Definition]:
    """Every name the text defines: the word after 政策/规则/参数/分工/字段, and a field's
    label."""
    tokens = [t for t in scan(text) if t.kind != "comment"]
    found = []
    for i, t in enumerate(tokens[:-1]):
        kind = next((k for k, words in DEFINING.items() if t.text in words), None)
        if kind is None or t.kind != "word" or tokens[i + 1].kind != "word":
            continue
        name = tokens[i + 1]
        label = tokens[i + 2].value if i + 2 < len(tokens) and kind == "field" else ""
        found.append(Definition(kind, name.text, name.line, name.start, name.end, label))
    return found


def find(found: Iterable[Definition], name: str, kinds: Iterable[str]) -> Definition | None:
    """The definition of `name` (or of the field labelled `name`) among `kinds`."""
    wanted = set(kinds)
    return next((d for d in found if d.kind in wanted and name in (d.name, d.label) and name), None)


def declared_source(text: str) -> str:
    """The source document the header names (`来源 ID`), "" when none is written yet."""
    tokens = [t for t in scan(text) if t.kind != "comment"]
    return next((b.text for a, b in itertools.pairwise(tokens) if a.text in SOURCE), "")


def declaration(text: str, line: int) -> str:
    """The item declared at `line` as written: that line, the lines indented deeper after it,
    and the line that closes its braces (an enum field's "}")."""
    lines = text.split("\n")
    if not 0 <= line < len(lines):
        return ""
    indent = _indent(lines[line])
    end = line + 1
    while end < len(lines) and lines[end].strip() and _indent(lines[end]) > indent:
        end += 1
    if end < len(lines) and _indent(lines[end]) == indent and lines[end].lstrip()[:1] == "}":
        end += 1
    return "\n".join(lines[line:end])


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())
