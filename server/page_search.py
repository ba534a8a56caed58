"""The search page's view of the clause hits: the calibrated relevance in Chinese (the same
levels the API's `relevance` gives, kb.calibration), highlights without one-character words,
the sentence that answered set apart inside its clause, the document's title and provenance
notice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dsl.resolved import PolicySet
from kb.calibration import Level
from kb.corpus import Corpus
from server.provenance import notice
from server.results import SearchResult

__all__ = ["LABELS", "Segment", "hits", "segments"]

# The page's words for kb.calibration's levels; a hit below `low` is only a nearest clause.
LABELS: dict[Level | None, str] = {"high": "高", "medium": "中", "low": "低", None: "不相关"}


@dataclass(frozen=True)
class Segment:
    """A stretch of a clause's text, with its word highlights counted from its own start;
    `sentence` is True for the sentence that answered."""

    text: str
    spans: tuple[tuple[int, int], ...]
    sentence: bool


def segments(
    text: str, spans: list[tuple[int, int]], sentence: tuple[int, int] | None
) -> list[Segment]:
    """`text` cut around `sentence` (one segment when None), each word span clipped into the
    segments it falls in."""
    cuts = [(0, len(text), False)]
    if sentence is not None:
        start, end = sentence
        cuts = [(0, start, False), (start, end, True), (end, len(text), False)]
    out = []
    for begin, finish, answered in cuts:
        if begin >= finish:
            continue
        inside = tuple(
            (max(s, begin) - begin, min(e, finish) - begin)
            for s, e in spans
            if s < finish and e > begin
        )
        out.append(Segment(text[begin:finish], inside, answered))
    return out


def hits(found: SearchResult, policies: PolicySet, corpus: Corpus) -> list[dict[str, Any]]:
    """Each hit with its policy (for the link), relevance, its text in segments with the
    highlights of words of two characters or more (a highlighted 的 or 谁 marks everything and
    means nothing) and the answering sentence, and the notice when its source is not the
    official text."""
    policy_of = {p.header.source: p.id for p in policies.policies}
    out = []
    for t in found.hits:
        spans = [(s, e) for s, e in t.hit.highlights if e - s >= 2]
        out.append(
            {
                "hit": t.hit,
                "title": t.title,
                "policy": policy_of.get(t.hit.document),
                "relevance": LABELS[t.hit.relevance],
                "segments": segments(t.hit.text, spans, t.hit.sentence),
                "notice": notice(policies, corpus, t.hit.document),
            }
        )
    return out
