"""Free text -> items (routing rules), with a calibrated score and a "no confident match".

Items are plain data (`Item(id, text, region)`); an id may have several texts (a routing rule's
title, matter phrases and cited quotes), and the item is as good as its best text. The server
builds them from the policy set; kb knows nothing about routing.

Matching has two steps:

1. Candidates come from the same hybrid index and fusion as clause search (kb.index: words,
   character bigrams and e5, the lexicon's terms added) over all the items' texts in the
   region (and among the ids allowed, e.g. the rules in force).
2. Each candidate is scored the way clause hits are (kb.calibration): a calibrated
   probability from the same features — the best cosine of the question with the item's
   texts and the share of the question's word weight found in them (`lexical`) — by the
   same logistic form, fitted for items on the calibration part of
   tests/data/route_queries.yaml (its matches, its questions no rule answers and its near
   misses) by bench/fit_search.py. The fused rank is left out (its weight is 0): the best of
   the items ranks first whether or not it is what was asked, and RRF, a function of ranks,
   cannot say whether it is good enough; this score means the same thing for every question.

Candidates are ordered by that score (of two equally close, the narrower item, with fewer
texts, first) and the best is a match when it reaches the model's `low` cut-off (its relevance
is not None). The models belong to the embedder (`Calibration`; kb.calibration.ROUTES is
e5's): another embedder, such as the tests' HashEmbedder, needs its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from kb.calibration import FUSIONS, ROUTES, Calibration, Features, Level
from kb.embed import Embedder, FloatMatrix
from kb.index import DEPTH, Entry, HybridIndex, Scored
from kb.index_files import open_index
from kb.lexical import Tokenizer
from kb.lexicon import Lexicon
from kb.normalize import normalize

__all__ = [
    "Item",
    "ItemAnswer",
    "ItemIndex",
    "ItemMatch",
    "match_items",
    "region_matches",
]


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
    """A candidate item: `score`, the calibrated probability that it is what the question asks
    for (module docstring), its `relevance` level (None below the lowest), and its parts:
    `semantic` is the best cosine of the question with the item's texts (None without the
    model), `lexical` the share of the question's word weight they contain. `text` is the
    item's text closest to the query."""

    id: str
    score: float
    semantic: float | None
    lexical: float
    text: str
    relevance: Level | None = None
    fused: float = 0.0  # Features.fused of its best text


@dataclass(frozen=True)
class ItemAnswer:
    """`match` is the best candidate when it reaches `threshold`, else None; `candidates`
    are the best items in order (a match is the first), for "did you mean"."""

    match: ItemMatch | None
    candidates: tuple[ItemMatch, ...]
    threshold: float


class ItemIndex:
    """The hybrid index of items' texts, and the scoring above."""

    def __init__(self, index: HybridIndex, calibration: Calibration = ROUTES) -> None:
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
        calibration: Calibration = ROUTES,
        tokenizer: Tokenizer | None = None,
        lexicon: Lexicon | None = None,
    ) -> ItemIndex:
        """Open (building if needed) the index of `items` as `items-<name>` in `cache_dir`;
        `lexicon` expands questions as in clause search."""
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
            lexicon=lexicon,
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
        """The score a match needs: the lowest relevance's cut-off of the model in use."""
        return self.calibration.model(self.dense_available).low

    @cached_property
    def _groups(self) -> dict[tuple[str, str], list[int]]:
        """Rows by (item id, region), so filtering costs one test per group, not per text."""
        groups: dict[tuple[str, str], list[int]] = {}
        for row, entry in enumerate(self.index.entries):
            groups.setdefault((entry.document, entry.region), []).append(row)
        return groups

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
        prepared = self.index.query(query)
        vector = self.index.embed_query(prepared)
        found = self.index.search(prepared, DEPTH, rows, vector=vector)
        fused: dict[str, float] = {}
        for s in found:
            fused.setdefault(self.index.entries[s.row].document, _share(s, vector is not None))
        # Of two items equally close (two rules citing one phrase), the narrower one, with fewer
        # texts, answers: the other lists that matter among many. Then the hybrid search's order.
        groups = [by_item[item] for item in fused]
        coverages = self.index.coverage(prepared, groups)
        closest = self._closest(vector, groups)
        scored = [
            self._score(item, near, fused[item], coverage)
            for item, near, coverage in zip(fused, closest, coverages, strict=True)
        ]
        scored.sort(key=lambda m: (-m.score, len(by_item[m.id])))
        best = scored[0] if scored and scored[0].score >= limit else None
        return ItemAnswer(best, tuple(scored[:k]), limit)

    def _closest(
        self, vector: FloatMatrix | None, groups: list[list[int]]
    ) -> list[tuple[int, float | None]]:
        """Each group's row closest to `vector` and its cosine; without vectors, its first row
        (an item's title) and None. The cosines are every row's, one product over the matrix
        as the dense channel computes them (kb.index), so an item's cosine is the one its text
        was ranked by: slicing the mapped matrix for each item cost more than that whole
        product (about 10 µs for each of the 19 items a question is scored against)."""
        vectors = self.index.passage_vectors if self.index.dense_available else None
        if vector is None or vectors is None:
            return [(rows[0], None) for rows in groups]
        cosines: list[float] = (vectors @ vector).tolist()
        closest: list[tuple[int, float | None]] = []
        for rows in groups:
            row = max(rows, key=cosines.__getitem__)  # the first of equals, as numpy's argmax
            closest.append((row, cosines[row]))
        return closest

    def _score(
        self, item: str, closest: tuple[int, float | None], fused: float, lexical: float
    ) -> ItemMatch:
        row, cosine = closest
        model = self.calibration.model(cosine is not None)
        score = model.score(Features(cosine, lexical, fused))
        text = self.index.entries[row].text
        return ItemMatch(item, score, cosine, lexical, text, model.level(score), fused)


def _share(scored: Scored, dense: bool) -> float:
    """A fused score over the best the pipeline can give (Features.fused)."""
    return scored.score / FUSIONS["pipeline"].best(dense)


def match_items(
    items: Iterable[Item],
    query: str,
    region: str | None = None,
    k: int = 5,
    *,
    cache_dir: Path,
    embedder: Embedder | None,
    name: str = "adhoc",
    calibration: Calibration = ROUTES,
) -> ItemAnswer:
    """One-shot `ItemIndex.open(...).match(...)`; the index is cached like any other, so a
    second call with the same items does not re-embed them."""
    index = ItemIndex.open(cache_dir, name, items, embedder, calibration=calibration)
    return index.match(query, region, k=k)
