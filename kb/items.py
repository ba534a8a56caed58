"""Free text -> items (routing rules), with a calibrated score and a "no confident match".

Items are plain data (`Item(id, text, region)`); an id may have several texts (a routing rule's
title, matter phrases and cited quotes), and the item is as good as its best text. The server
builds them from the policy set; kb knows nothing about routing.

Matching has two steps:

1. Candidates come from the same hybrid index as clause search (BM25 + dense, RRF) over all
   the items' texts in the region (and among the ids allowed, e.g. the rules in force).
2. Each candidate gets a score in [0, 1] that means the same thing for every query, which RRF
   (a function of ranks only) cannot give:

       semantic = clip((best cosine of the query with the item's texts - 0.85) / 0.10, 0, 1)
       lexical  = idf-weighted share of the query's words found in the item's texts
       score    = 0.6 * semantic + 0.4 * lexical        (lexical alone without the model)

   e5 puts any two Chinese administrative sentences at cosine 0.84-0.88 (measured: the best
   unrelated candidate for an off-topic question), and a paraphrase of a matter at 0.90-0.95,
   hence the 0.85-0.95 window. The lexical share rewards the unit names and terms of art that
   a matter is usually asked by, but paraphrase is common, so meaning weighs more.

Candidates are ordered by that score and the best is a match when it reaches the threshold:
0.43 with the model, 0.40 without. They were chosen on the calibration part of
tests/data/route_queries.yaml (bench/kb.py prints it): the weakest right answer scored 0.462
(县委书记县长 for 党政主要领导: almost no shared words), the strongest off-topic question
0.405; the threshold sits in that gap. The held-out part, written afterwards, scored 0.570 and
up when right and at most 0.286 off-topic: 13/13 right, no false match. Without the model the
lexical share alone decides: off-topic questions reach 0.23, so 0.40 still refuses them, and
21/24 calibration and 12/13 held-out matters are right (paraphrases without shared words are
missed, and two rules with the same words can be confused: BM25 cannot tell them apart).
The window and thresholds belong to the model (`Calibration`; E5 is the default): another
embedder, such as the tests' HashEmbedder, needs its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from kb.embed import Embedder, FloatMatrix
from kb.index import DEPTH, Entry, HybridIndex, open_index
from kb.lexical import Tokenizer
from kb.normalize import normalize

__all__ = [
    "E5",
    "LEXICAL_THRESHOLD",
    "THRESHOLD",
    "Calibration",
    "Item",
    "ItemAnswer",
    "ItemIndex",
    "ItemMatch",
    "match_items",
    "region_matches",
]


@dataclass(frozen=True)
class Calibration:
    """How an embedder's cosines map to the [0, 1] score, and where a match starts."""

    floor: float  # cosine of texts with nothing in common
    ceiling: float  # cosine of the same matter in other words
    semantic_weight: float
    threshold: float  # with the model
    lexical_threshold: float  # without it (lexical share alone)


# multilingual-e5-small as rebuilt by kb.model; measured by bench/kb.py (module docstring).
E5 = Calibration(
    floor=0.85, ceiling=0.95, semantic_weight=0.6, threshold=0.43, lexical_threshold=0.40
)
THRESHOLD = E5.threshold
LEXICAL_THRESHOLD = E5.lexical_threshold


def region_matches(entry_region: str, region: str | None) -> bool:
    """True when either region path contains the other, segment by segment (江西省/南昌市
    and 江西省 match both ways); an empty region on either side matches everything."""
    if not region or not entry_region:
        return True
    a = [part for part in entry_region.split("/") if part]
    b = [part for part in region.split("/") if part]
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


@dataclass(frozen=True)
class Item:
    """Something free text can be matched to; texts that share an id are one item."""

    id: str
    text: str
    region: str = ""


@dataclass(frozen=True)
class ItemMatch:
    """A candidate item: `score` in [0, 1] (see the module docstring) and its parts;
    `semantic` is None without the model. `text` is the item's text closest to the query."""

    id: str
    score: float
    semantic: float | None
    lexical: float
    text: str


@dataclass(frozen=True)
class ItemAnswer:
    """`match` is the best candidate when it reaches `threshold`, else None; `candidates`
    are the best items in order (a match is the first), for "did you mean"."""

    match: ItemMatch | None
    candidates: tuple[ItemMatch, ...]
    threshold: float


class ItemIndex:
    """The hybrid index of items' texts, and the scoring above."""

    def __init__(self, index: HybridIndex, calibration: Calibration = E5) -> None:
        self.index = index
        self.calibration = calibration

    @classmethod
    def open(
        cls,
        cache_dir: Path,
        name: str,
        items: Iterable[Item],
        embedder: Embedder | None,
        *,
        degraded_reason: str | None = None,
        progress: bool = False,
        calibration: Calibration = E5,
        tokenizer: Tokenizer | None = None,
    ) -> ItemIndex:
        """Open (building if needed) the index of `items` as `items-<name>` in `cache_dir`."""
        entries = [
            Entry(item.id, str(n), item.region, item.text, normalize(item.text))
            for n, item in enumerate(items)
        ]
        index = open_index(
            cache_dir,
            f"items-{name}",
            entries,
            tokenizer=tokenizer or Tokenizer(),
            embedder=embedder,
            degraded_reason=degraded_reason,
            progress=progress,
        )
        return cls(index, calibration)

    @property
    def dense_available(self) -> bool:
        return self.index.dense_available

    @property
    def degraded_reason(self) -> str | None:
        return self.index.degraded_reason

    @property
    def threshold(self) -> float:
        c = self.calibration
        return c.threshold if self.dense_available else c.lexical_threshold

    @cached_property
    def _groups(self) -> dict[tuple[str, str], list[int]]:
        """Rows by (item id, region), so filtering costs one test per group, not per text."""
        groups: dict[tuple[str, str], list[int]] = {}
        for row, entry in enumerate(self.index.entries):
            groups.setdefault((entry.document, entry.region), []).append(row)
        return groups

    @cached_property
    def _words(self) -> dict[str, frozenset[str]]:
        """Every token of each item's texts (the lexical share is over all of them)."""
        words: dict[str, set[str]] = {}
        for entry in self.index.entries:
            tokens = self.index.tokenizer.tokens(entry.passage)
            words.setdefault(entry.document, set()).update(tokens)
        return {item: frozenset(tokens) for item, tokens in words.items()}

    def match(
        self,
        query: str,
        region: str | None = None,
        ids: Iterable[str] | None = None,
        k: int = 5,
        threshold: float | None = None,
    ) -> ItemAnswer:
        """The items that best fit `query` among those in `region` and `ids` (when given)."""
        limit = self.threshold if threshold is None else threshold
        allowed = None if ids is None else set(ids)
        by_item: dict[str, list[int]] = {}
        for (item, item_region), group in self._groups.items():
            if (allowed is None or item in allowed) and region_matches(item_region, region):
                by_item.setdefault(item, []).extend(group)
        rows = sorted(row for group in by_item.values() for row in group)
        vector = self.index.embed_query(query)
        found = self.index.search(query, DEPTH, rows, vector=vector)
        candidates = dict.fromkeys(self.index.entries[s.row].document for s in found)
        tokens = self.index.tokenizer.tokens(query)
        scored = [self._score(tokens, vector, item, by_item[item]) for item in candidates]
        # Stable sort: equal scores keep the hybrid search's order.
        scored.sort(key=lambda m: -m.score)
        best = scored[0] if scored and scored[0].score >= limit else None
        return ItemAnswer(best, tuple(scored[:k]), limit)

    def _score(
        self, tokens: list[str], vector: FloatMatrix | None, item: str, rows: list[int]
    ) -> ItemMatch:
        words = self._words[item]
        weights = [self.index.bm25.idf(t) for t in tokens]
        found = sum(w for t, w in zip(tokens, weights, strict=True) if t in words)
        lexical = found / sum(weights) if weights else 0.0
        vectors = self.index.passage_vectors if self.index.dense_available else None
        if vector is None or vectors is None:
            closest = rows[0]  # without vectors, show the item's first text (its title)
            return ItemMatch(item, lexical, None, lexical, self.index.entries[closest].text)
        c = self.calibration
        cosines = vectors[rows] @ vector
        closest = rows[int(np.argmax(cosines))]
        semantic = (float(cosines.max()) - c.floor) / (c.ceiling - c.floor)
        semantic = min(max(semantic, 0.0), 1.0)
        score = c.semantic_weight * semantic + (1 - c.semantic_weight) * lexical
        return ItemMatch(item, score, semantic, lexical, self.index.entries[closest].text)


def match_items(
    items: Iterable[Item],
    query: str,
    region: str | None = None,
    k: int = 5,
    *,
    cache_dir: Path,
    embedder: Embedder | None,
    name: str = "adhoc",
    calibration: Calibration = E5,
) -> ItemAnswer:
    """One-shot `ItemIndex.open(...).match(...)`; the index is cached like any other, so a
    second call with the same items does not re-embed them."""
    index = ItemIndex.open(cache_dir, name, items, embedder, calibration=calibration)
    return index.match(query, region, k=k)
