"""A clause's sentences, with their spans, so that search can rank a clause by its best sentence.

A long clause (江西 一.3 runs to 300 characters and four tasks) dilutes its embedding: a question
about one of its sentences is nearer to a short clause that merely shares the topic. Indexing
each sentence beside the clause lets that one sentence speak for it, and the sentence's span
tells the page which part of the clause answered.

    sentences("1.加强指导。对投资额度在1000万元以上的……备案；对供地类项目，……")
      -> [Sentence(0, 7, "1.加强指导。"), Sentence(7, …, "对投资额度……备案；"), …]

A sentence ends after 。！？；!?; or a line break. Fragments shorter than MIN_CHARS (a heading
label such as "4.", a stray "（试行）") join the sentence before them, or the next one at the
start, so that no passage is too short to mean anything. A clause of one sentence has no
sentence passages: the clause itself is that sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MIN_CHARS", "Sentence", "sentences"]

# Shorter fragments are joined to a neighbour (counted without whitespace).
MIN_CHARS = 8
_END = re.compile(r"[。！？；!?;]+[”’」』）)]*|\n+")


@dataclass(frozen=True)
class Sentence:
    """[start, end) of `text` in its clause, without surrounding whitespace."""

    start: int
    end: int
    text: str


def _size(text: str) -> int:
    return sum(1 for c in text if not c.isspace())


def _pieces(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for end_mark in _END.finditer(text):
        spans.append((start, end_mark.end()))
        start = end_mark.end()
    spans.append((start, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def sentences(text: str) -> list[Sentence]:
    """The sentences of a clause's text, in order; [] when it has fewer than two."""
    merged: list[list[int]] = []
    for start, end in _pieces(text):
        if merged and (
            _size(text[start:end]) < MIN_CHARS or _size(text[slice(*merged[-1])]) < MIN_CHARS
        ):
            merged[-1][1] = end
        else:
            merged.append([start, end])
    if len(merged) < 2:
        return []
    out = []
    for start, end in merged:
        chunk = text[start:end]
        lead = len(chunk) - len(chunk.lstrip())
        trail = len(chunk) - len(chunk.rstrip())
        out.append(Sentence(start + lead, end - trail, chunk.strip()))
    return out
