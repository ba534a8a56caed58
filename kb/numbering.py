"""Gaps in a document's numbering, shown when a document is added (`zhengce add`), so that a
segmentation mistake is seen at once rather than when a clause cannot be cited.

The outline (kb.segment) lets a sibling skip one number, because documents do; a skip is also
what a missed label looks like (an item swallowed into the one before it), so every skip is
listed: `二.10 → 二.12`, missing 11.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kb.segment import Clause, label_number

__all__ = ["Gap", "numbering_gaps"]

_DIGITS = "一二三四五六七八九"


@dataclass(frozen=True)
class Gap:
    """Two sibling clauses whose numbers do not follow each other."""

    before: str  # the clause id before the gap
    after: str  # the clause id after it
    missing: tuple[str, ...]  # the labels in between, as the document numbers (11, (二), 三)


def numbering_gaps(clauses: Sequence[Clause]) -> list[Gap]:
    """Every place where a numbered clause does not follow its previous sibling of the same
    numbering style, in reading order. Numbering that runs on into the next section (嘉定's
    四.(二) starts at 4) is no gap: only siblings are compared."""
    previous: dict[tuple[str | None, str], tuple[str, int]] = {}
    gaps: list[Gap] = []
    for clause in clauses:
        number = label_number(clause.label)
        if number is None:
            continue
        style, value = number
        key = (clause.parent, style)
        if key in previous:
            before, last = previous[key]
            if value > last + 1:
                missing = tuple(_label(style, n) for n in range(last + 1, value))
                gaps.append(Gap(before, clause.id, missing))
        previous[key] = (clause.id, value)
    return gaps


def _label(style: str, value: int) -> str:
    text = _chinese(value) if "cn" in style else str(value)
    return f"({text})" if style.startswith("(") else text


def _chinese(value: int) -> str:
    """1 … 99 in Chinese numerals, as kb.segment.chinese_number reads them."""
    tens, units = divmod(value, 10)
    if not tens:
        return _DIGITS[units - 1]
    return ("" if tens == 1 else _DIGITS[tens - 1]) + "十" + (_DIGITS[units - 1] if units else "")
