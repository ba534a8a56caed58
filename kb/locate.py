"""Where a quote sits inside a clause's verbatim text, for highlighting.

A quote matches its clause up to script, width and whitespace (kb.normalize), so it is found
in a normalised copy of the text and mapped back to the original characters. Each character
is normalised on its own; OpenCC's few phrase-level conversions can then differ from the
normalisation of the whole text, in which case the quote is reported as not located rather
than placed wrongly.
"""

from __future__ import annotations

from kb.normalize import normalize

__all__ = ["locate"]


def locate(text: str, quote: str) -> tuple[int, int] | None:
    """(start, end) of `quote` in `text` as character offsets of `text`, or None."""
    if not quote:
        return None
    direct = text.find(quote)
    if direct >= 0:
        return direct, direct + len(quote)
    target = normalize(quote)
    if not target:
        return None
    flat: list[str] = []
    origin: list[int] = []  # origin[i]: the index in `text` of flat character i
    for i, char in enumerate(text):
        for out in normalize(char):
            flat.append(out)
            origin.append(i)
    at = "".join(flat).find(target)
    if at < 0:
        return None
    return origin[at], origin[at + len(target) - 1] + 1
