"""Quick fixes an editor offers for a diagnostic: an edit of the text, found in the parsed file.

`bound_wording_mismatch` (the 以上 lint): the comparison's word is replaced by one that means
what the quote says (超过 where the quote says 超过1000万元 and the rule says 以上), spelt as the
file spells it (a Chinese word, an English word or a symbol), the quote's own word first. A
candidate is proved with the lint itself: it is offered only when `check_bounds` no longer
objects, so the fix can never disagree with the diagnostic it fixes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from dsl import ast
from dsl.check_bounds import check_bounds, compares
from dsl.errors import DslError
from dsl.parser import parse
from dsl.resolved import COMPARATORS, ParamValue


@dataclass(frozen=True)
class Edit:
    """Replace columns start..end of `line` (0-based, in characters) by `text`."""

    line: int
    start: int
    end: int
    text: str
    title: str  # what the editor shows, for people: Chinese


def bound_fix(text: str, line: int, column: int, normalize: Callable[[str], str]) -> Edit | None:
    """The fix for the bound_wording_mismatch whose comparison starts at (line, column),
    0-based; None when the text no longer parses, holds no such comparison, or no word
    satisfies every quote."""
    try:
        module = parse(text)
    except DslError:
        return None
    params = {
        p.name: ParamValue(
            p.name, str(p.value) if p.value else "", p.unit, p.value is None, p.cites, p.notes
        )
        for p in module.params
    }
    for rule in module.rules:
        for cmp in compares(rule.when):
            if (cmp.span.line - 1, cmp.span.column - 1) == (line, column):
                return _fix(text, rule, cmp, params, normalize)
    return None


def _fix(
    text: str,
    rule: ast.Rule,
    cmp: ast.Compare,
    params: dict[str, ParamValue],
    normalize: Callable[[str], str],
) -> Edit | None:
    where = _operator(text, cmp)
    if where is None:
        return None
    quotes = "".join(normalize(c.quote) for c in rule.cites)
    fits = [
        word
        for word in COMPARATORS
        if _style(word) == _style(cmp.op)
        and word != cmp.op
        and not check_bounds(replace(rule, when=replace(cmp, op=word)), params, normalize)
    ]
    if not fits:
        return None
    best = next((w for w in fits if w in quotes), fits[0])
    line, start = where
    title = f"将“{cmp.op}”改为“{best}”，与引文的界限一致"
    return Edit(line, start, start + len(cmp.op), best, title)


def _operator(text: str, cmp: ast.Compare) -> tuple[int, int] | None:
    """(line, column), 0-based, of the comparison's word: after the field, before the operand."""
    lines = text.split("\n")
    line, column = cmp.field.span.end_line - 1, cmp.field.span.end_column - 1
    while 0 <= line < len(lines) and line < cmp.operand_span.line:
        found = lines[line].find(cmp.op, column)
        if found >= 0:
            return line, found
        line, column = line + 1, 0
    return None


def _style(word: str) -> str:
    if set(word) <= set("<>="):
        return "symbol"
    return "english" if word.isascii() else "chinese"
