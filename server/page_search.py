"""The search page's view of the clause hits: relevance as 高/中/低 instead of fused scores,
highlights without one-character words, the document's title and provenance notice."""

from __future__ import annotations

from typing import Any

from dsl.resolved import PolicySet
from kb.corpus import Corpus
from kb.index import RRF_K
from server.provenance import notice
from server.results import SearchResult

__all__ = ["hits", "relevance"]

# Relevance from the fused score (kb.index: reciprocal-rank fusion, the sum of 1/(RRF_K + rank)
# over the rankings a clause is in, lexical and, when the model is on, semantic):
# 高 when the score is at least that of a clause ranked 5th in every ranking used, 中 at least
# that of one ranked 20th, 低 below. With semantic search off, one ranking counts.
HIGH_RANK, MIDDLE_RANK = 5, 20


def relevance(score: float, rankings: int) -> str:
    if score >= rankings / (RRF_K + HIGH_RANK):
        return "高"
    if score >= rankings / (RRF_K + MIDDLE_RANK):
        return "中"
    return "低"


def hits(found: SearchResult, policies: PolicySet, corpus: Corpus) -> list[dict[str, Any]]:
    """Each hit with its policy (for the link), relevance, the highlights of words of two
    characters or more (a highlighted 的 or 谁 marks everything and means nothing), and the
    notice when its source is not the official text."""
    rankings = 2 if found.dense_available else 1
    policy_of = {p.header.source: p.id for p in policies.policies}
    return [
        {
            "hit": t.hit,
            "title": t.title,
            "policy": policy_of.get(t.hit.document),
            "relevance": relevance(t.hit.score, rankings),
            "spans": [(s, e) for s, e in t.hit.highlights if e - s >= 2],
            "notice": notice(policies, corpus, t.hit.document),
        }
        for t in found.hits
    ]
