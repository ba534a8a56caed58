"""The bound lint: a comparison's inclusive or exclusive bound against the words of its quotes.
Chinese legal counting (民法典 第1259条): 以上, 以下 and 以内 include the number itself; 超过,
不足 and 低于 do not."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from dsl import ast
from dsl.diagnostic_text import BOUNDS, advise, diagnostic
from dsl.errors import Diagnostic
from dsl.resolved import COMPARATORS, ParamValue
from dsl.units import parse_quantity
from dsl.vocabulary import Code


def check_bounds(
    rule: ast.Rule, params: Mapping[str, ParamValue], normalize: Callable[[str], str]
) -> list[Diagnostic]:
    """bound_wording_mismatch for each comparison whose word disagrees with a quote of the
    rule, or of the parameter it compares against; `params` are those defined so far."""
    diags = []
    quotes = [c.quote for c in rule.cites]
    for cmp in compares(rule.when):
        quantity, extra = cmp.operand, []
        if isinstance(quantity, ast.ParamRef):
            p = params.get(quantity.name)
            if p is None or p.unspecified:
                continue
            quantity = parse_quantity(p.value)
            extra = [c.quote for c in p.cites]
        op = COMPARATORS[cmp.op]
        for quote in quotes + extra:
            said = _bound_in_quote(normalize(quote), quantity.amount, quantity.unit)
            if said and said != op:
                diags.append(
                    diagnostic(
                        Code.BOUND_WORDING_MISMATCH,
                        cmp.span,
                        op=cmp.op,
                        meaning=BOUNDS[op],
                        quantity=str(quantity),
                        said=BOUNDS[said],
                        hint=advise("bound_words"),
                    )
                )
                break
    return diags


def compares(e: ast.Expr) -> Iterable[ast.Compare]:
    """Every comparison of a condition, in reading order."""
    if isinstance(e, ast.Compare):
        yield e
    elif isinstance(e, ast.And | ast.Or):
        for x in e.items:
            yield from compares(x)
    elif isinstance(e, ast.Not):
        yield from compares(e.item)


_AFTER = {"以上": ">=", "以下": "<=", "以内": "<="}
_BEFORE = [
    ("不低于", ">="),
    ("不少于", ">="),
    ("不超过", "<="),
    ("不高于", "<="),
    ("超过", ">"),
    ("高于", ">"),
    ("不足", "<"),
    ("低于", "<"),
    ("超", ">"),
]


def _bound_in_quote(quote: str, amount: str, unit: str) -> str:
    """The operator the quote's own words give the number, or "" when it says none."""
    for m in re.finditer(r"(?<![\d.])" + re.escape(amount + unit) + r"(?![\d.])", quote):
        after = quote[m.end() : m.end() + 2]
        if after in _AFTER:
            return _AFTER[after]
        before = quote[: m.start()]
        for word, op in _BEFORE:
            if before.endswith(word):
                return op
    return ""
