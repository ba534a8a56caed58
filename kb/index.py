"""The hybrid index: ranked channels over entries, fused by weighted reciprocal rank.

An entry is plain data (`Entry`: document, key, region, display text, passage, span), so the
same index serves clauses (kb.search.KnowledgeBase) and routing items (kb.items.ItemIndex). An
entry without a span is a *passage* (a clause, an item's text); an entry with a span is one of
the sentences of the passage before it (kb.passages), embedded but never scored on its own: a
passage's dense score can be that of its best sentence, and its hit then names the sentence.

A question is prepared once (`HybridIndex.query`): the lexicon's official terms for its
colloquial phrases are added (kb.lexicon), then it is cut into words and character bigrams.
Each channel ranks the passages — BM25 over words, BM25 over bigrams, e5 cosine — and the
ranks are fused by weighted reciprocal rank; the weights, the constant and which of these
steps apply are a `Fusion` (kb.calibration; `Mode` names the ones bench/kb.py compares).

The index on disk (its folder, key, build and reuse) is kb.index_files.

Without a model (`embedder=None`, or encoding raises ModelUnavailable) the index is lexical
only and says so: `dense_available` is False, `degraded_reason` says why, and a
DenseUnavailableWarning is issued — never a silent fallback.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from kb.calibration import FUSIONS, Fusion
from kb.dense import DenseIndex
from kb.embed import Embedder, FloatMatrix
from kb.lexical import Bm25, Tokenizer
from kb.lexicon import Expansion, Lexicon
from kb.model import ModelUnavailable

__all__ = [
    "DEPTH",
    "DenseUnavailableWarning",
    "Entry",
    "HybridIndex",
    "Mode",
    "Query",
    "Scored",
    "unavailable",
]

# How deep each channel is read before fusing: far below it a passage contributes almost nothing.
DEPTH = 100
Mode = Literal["lexical", "dense", "hybrid", "pipeline"]
IntArray = npt.NDArray[np.int64]


class DenseUnavailableWarning(UserWarning):
    """Dense (semantic) search is off; results come from BM25 alone."""


@dataclass(frozen=True)
class Entry:
    """One indexed row: `passage` is tokenised and embedded, `text` is what people see.

    `span` is None for a passage; for a sentence of the passage before it, the sentence's
    [start, end) in that passage's `text` (and `text` is the sentence)."""

    document: str
    key: str
    region: str
    text: str
    passage: str
    span: tuple[int, int] | None = None


@dataclass(frozen=True)
class Query:
    """A question prepared for every channel: its lexicon expansion, words and bigrams."""

    text: str
    expansion: Expansion
    words: tuple[str, ...]  # the question's own words, then the lexicon terms' words
    grams: tuple[str, ...]
    own: int  # how many of `words` are the question's own


@dataclass(frozen=True)
class Scored:
    """A passage row with its fused score and each channel's own score: BM25 of the words and
    of the bigrams (0 when absent), the cosine (None when dense search was not used), and the
    row of the sentence that gave that cosine when it beat the passage as a whole."""

    row: int
    score: float
    lexical: float
    grams: float
    dense: float | None
    sentence: int | None


class HybridIndex:
    """An opened index; read-only and safe to share between threads once opened."""

    def __init__(
        self,
        *,
        folder: Path,
        entries: tuple[Entry, ...],
        tokenizer: Tokenizer,
        lexicon: Lexicon,
        bm25: Bm25,
        grams: Bm25,
        dense: DenseIndex | None,
        embedder: Embedder | None,
        degraded_reason: str | None,
        built: bool,
        build_seconds: float,
    ) -> None:
        self.folder = folder
        self.entries = entries
        self.tokenizer = tokenizer
        self.lexicon = lexicon
        self.bm25 = bm25
        self.grams = grams
        self._dense = dense
        self._embedder = embedder
        self.degraded_reason = degraded_reason
        self.built = built  # True when this call built the folder, False when it reused it
        self.build_seconds = build_seconds
        # Passages in row order; each passage's sentences follow it, so a passage's rows are
        # the slice from its row to the next passage's.
        self.passages: IntArray = np.asarray(
            [row for row, e in enumerate(entries) if e.span is None], dtype=np.int64
        )
        self._ordinal = {int(row): n for n, row in enumerate(self.passages)}

    @property
    def dense_available(self) -> bool:
        return self._dense is not None and self._embedder is not None

    def _degrade(self, reason: str) -> None:
        self._embedder = None
        self.degraded_reason = reason
        warnings.warn(unavailable(reason), stacklevel=3)

    def query(self, text: str, expand: bool = True) -> Query:
        """`text` prepared for search, with the lexicon's terms when `expand`."""
        expansion = self.lexicon.expand(text) if expand else Expansion(text, (), ())
        words = self.tokenizer.tokens(text)
        own = len(words)
        grams = self.tokenizer.grams(text)
        for term in expansion.added:
            words += self.tokenizer.tokens(term)
            grams += self.tokenizer.grams(term)
        return Query(text, expansion, tuple(words), tuple(grams), own)

    def embed_query(self, query: Query) -> FloatMatrix | None:
        """The query's unit vector (question and lexicon terms), or None when dense search is
        unavailable."""
        if self._embedder is None or self._dense is None:
            return None
        try:
            vectors: FloatMatrix = self._embedder.encode_queries([query.expansion.dense_text])
        except ModelUnavailable as exc:
            self._degrade(str(exc))
            return None
        vector: FloatMatrix = vectors[0]
        return vector

    def search(
        self,
        query: str | Query,
        k: int = 10,
        rows: Sequence[int] | None = None,
        mode: Mode | Fusion = "pipeline",
        vector: FloatMatrix | None = None,
    ) -> list[Scored]:
        """The best `k` passages for `query` (among the passage rows `rows` if given), best
        first, fused as `mode` says (a name of kb.calibration.FUSIONS, or a Fusion).

        A prepared `query` is used as it is; `vector` is its embedding when the caller already
        has it (it is embedded here otherwise)."""
        fusion = FUSIONS[mode] if isinstance(mode, str) else mode
        if k <= 0 or not len(self.passages) or (rows is not None and not rows):
            return []
        q = query if isinstance(query, Query) else self.query(query, fusion.expand)
        allowed = (
            np.arange(len(self.passages))
            if rows is None
            else np.asarray(sorted(self._ordinal[r] for r in rows), dtype=np.int64)
        )
        words = self.bm25.scores(q.words) if fusion.words else None
        grams = self.grams.scores(q.grams) if fusion.grams else None
        cosines = every = None
        if fusion.dense and self._dense is not None:
            if vector is None:
                vector = self.embed_query(q)
            if vector is not None:
                cosines, every = self._cosines(vector, fusion.sentences)
        fused: dict[int, float] = {}
        for weight, scores, positive in (
            (fusion.words, words, True),
            (fusion.grams, grams, True),
            (fusion.dense, cosines, False),
        ):
            if scores is None:
                continue
            for rank, p in enumerate(_ranking(scores, allowed, positive), start=1):
                fused[p] = fused.get(p, 0.0) + weight / (fusion.k + rank)

        def component(scores: npt.NDArray[Any] | None, p: int, missing: float) -> float:
            return missing if scores is None else float(scores[p])

        # Ties are common (first + second place = second + first); the cosine breaks them,
        # being an absolute similarity where BM25 favours short passages such as headlines,
        # then BM25, then row order: always repeatable.
        order = sorted(
            fused.items(),
            key=lambda item: (
                -item[1],
                -component(cosines, item[0], -2.0),
                -component(words, item[0], 0.0),
                item[0],
            ),
        )
        out = []
        for p, score in order[:k]:
            row = int(self.passages[p])
            sentence = None if every is None else self._best_sentence(p, every)
            out.append(
                Scored(
                    row,
                    score,
                    component(words, p, 0.0),
                    component(grams, p, 0.0),
                    None if cosines is None else float(cosines[p]),
                    sentence,
                )
            )
        return out

    def _cosines(
        self, vector: FloatMatrix, sentences: bool
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32] | None]:
        """Each passage's cosine with `vector` or, with `sentences`, the best of it and its
        sentences; and then every row's cosine, to tell which row that was."""
        matrix = self.passage_vectors
        assert matrix is not None  # only called with a dense index
        # In float32: a float64 query would make numpy convert the whole matrix (30x slower).
        every = matrix @ np.asarray(vector, dtype=np.float32)
        if not sentences or len(self.passages) == len(self.entries):
            return every[self.passages], None
        return np.maximum.reduceat(every, self.passages), every

    def _best_sentence(self, p: int, every: npt.NDArray[np.float32]) -> int | None:
        """The row of passage `p`'s sentence with the highest cosine, when it beats the
        passage itself (its first row)."""
        start = int(self.passages[p])
        end = int(self.passages[p + 1]) if p + 1 < len(self.passages) else len(self.entries)
        best = start + int(np.argmax(every[start:end]))
        return None if best == start else best

    def coverage(self, query: Query, groups: Sequence[Sequence[int]]) -> list[float]:
        """For each group of passage rows, the share of the question's word weight (BM25 idf,
        each distinct word once) found in its passages together, at most 1: a lexicon term
        found counts as the question's words it stands for, so the terms add to what is found,
        never to what is asked."""
        weights = {w: self.bm25.idf(w) for w in query.words}
        asked = sum(weights[w] for w in set(query.words[: query.own])) or sum(weights.values())
        if not asked or not groups:
            return [0.0 for _ in groups]
        # The groups each passage is in, by its BM25 ordinal; then each word's postings say
        # which passages hold it (scoring the whole index once a word cost 2.7x as much).
        groups_of: dict[int, list[int]] = {}
        for g, rows in enumerate(groups):
            for r in rows:
                groups_of.setdefault(self._ordinal[r], []).append(g)
        found = [0.0] * len(groups)
        for word, weight in weights.items():
            postings = self.bm25.documents(word).tolist()
            for g in {g for d in postings if d in groups_of for g in groups_of[d]}:
                found[g] += weight
        return [min(1.0, f / asked) for f in found]

    @cached_property
    def passage_vectors(self) -> FloatMatrix | None:
        """Every row's stored embedding (row order), None without a dense index."""
        return None if self._dense is None else self._dense.vectors()


def _ranking(scores: npt.NDArray[Any], allowed: IntArray, positive: bool) -> list[int]:
    """The allowed passages by descending score, the first DEPTH (only scores > 0 when
    `positive`: a BM25 score of 0 shares no word and ranks nothing)."""
    picked = allowed[scores[allowed] > 0] if positive else allowed
    # Stable sort on the negated score: ties keep row order, so results are repeatable.
    order = picked[np.argsort(-scores[picked], kind="stable")][:DEPTH]
    return [int(p) for p in order]


def unavailable(reason: str) -> DenseUnavailableWarning:
    """The warning that dense search is off, and why."""
    return DenseUnavailableWarning(
        f"semantic search is off, results come from BM25 alone: {reason}"
        " (`zhengce kb build` rebuilds the model and index once it is available)"
    )
