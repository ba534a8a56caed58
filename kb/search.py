"""Search the source documents clause by clause, and match free text to items (routing rules).

    kb = KnowledgeBase.open(root, cache_dir, lexicon=load_lexicon(path))  # builds once, reuses
    kb.search("不用拿地的项目投资多少要备案", k=5, region="甘肃省/平凉市")  -> [Hit, ...]
    kb.clause("pingliang-2023", "二.4")           -> the clause's full text, by id
    kb.related(cited_text, exclude_document="pingliang-2023", k=5)  -> [Hit, ...] elsewhere

    items = ItemIndex.open(cache_dir, "routes", [Item(id, text, region), ...], embedder)
    items.match("园区遇到困难找谁协调", region="甘肃省/平凉市")  -> ItemAnswer(match, candidates)
    (kb.items; re-exported here)

The caller chooses the cache directory; it holds the rebuilt model (kb.model.model_dir) and
the index folders (kb.index). Without the model, search is BM25 only and says so
(`dense_available`, `degraded_reason`, a DenseUnavailableWarning).

Each clause is indexed with its sentences (kb.passages): the dense channel scores a clause by
the best of itself and its sentences, and a hit whose best sentence beat the whole clause
names that sentence (`Hit.sentence`), so that a reader sees which part answered. Each hit has
a calibrated `score` and `relevance` (kb.calibration), and the fused candidates (kb.index) are
reordered by that score; a search has found something when a hit has a relevance (`found`).
A clause of a document that covers none of the places the question names (kb.places) has no
relevance, whatever its score: a document answers for its own places.

Region filter: a document matches a region when one region path contains the other, segment
by segment: a 江西省/南昌市 question sees 江西省 documents, and a 江西省 question sees
documents of its cities. An entry with no region matches every region.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from kb.answers import asks, lacks
from kb.calibration import FUSIONS, Features, Fusion, Level, Relevance, relevance_model
from kb.corpus import Corpus
from kb.embed import Embedder, default_embedder
from kb.index import Entry, HybridIndex, Mode, Query, Scored
from kb.index_files import open_index
from kb.items import Item, ItemAnswer, ItemIndex, ItemMatch, match_items, region_matches
from kb.lexical import Tokenizer, highlight_spans
from kb.lexicon import Lexicon
from kb.normalize import normalize
from kb.novel import novel_share
from kb.passages import sentences
from kb.places import Places, named, own_places

__all__ = [
    "Candidate",
    "Hit",
    "Item",
    "ItemAnswer",
    "ItemIndex",
    "ItemMatch",
    "KnowledgeBase",
    "found",
    "match_items",
    "region_matches",
]


# How many fused results the calibrated score reorders. Measured against the fused order: no
# change at recall@1 on the paraphrase tuning half, two gold clauses moved to first place on
# the documents'-words set.
RERANK = 20


@dataclass(frozen=True)
class Hit:
    """A clause found by search. `text` is the clause's own text in the document's script;
    `highlights` are (start, end) spans of `text` where query words (or the lexicon's terms
    for them) occur; `sentence` is the (start, end) of the sentence that answered best, when
    one sentence matched better than the whole clause. `score` is the calibrated probability
    that the clause answers the question (kb.calibration), `relevance` its level, None below
    the lowest."""

    document: str
    clause: str
    text: str
    score: float
    highlights: tuple[tuple[int, int], ...]
    relevance: Level | None = None
    sentence: tuple[int, int] | None = None


def found(hits: Sequence[Hit]) -> bool:
    """Whether a search found anything: some hit reaches the lowest relevance."""
    return any(h.relevance is not None for h in hits)


@dataclass(frozen=True)
class Candidate:
    """A fused result with the features its relevance is computed from."""

    scored: Scored
    features: Features


class KnowledgeBase:
    """The clause index of a project's source documents."""

    NAME = "clauses"

    def __init__(self, corpus: Corpus, index: HybridIndex) -> None:
        self.corpus = corpus
        self.index = index
        self._regions: dict[str, str] = {}
        self._rows: dict[str, list[int]] = {}
        for row in index.passages.tolist():
            entry = index.entries[row]
            self._regions.setdefault(entry.document, entry.region)
            self._rows.setdefault(entry.document, []).append(row)

    @classmethod
    def open(
        cls,
        root: Path,
        cache_dir: Path,
        embedder: Embedder | None = None,
        progress: bool = True,
        *,
        corpus: Corpus | None = None,
        degraded_reason: str | None = None,
        tokenizer: Tokenizer | None = None,
        lexicon: Lexicon | None = None,
    ) -> KnowledgeBase:
        """Open (building if needed) the index of the documents under `root`, cached in
        `cache_dir`.

        `embedder=None` uses multilingual-e5-small from the cache (built on first use); pass a
        kb.embed.HashEmbedder in tests. `tokenizer` lets indexes share one jieba dictionary
        (~1 s and tens of MB each); `lexicon` (kb.lexicon, none by default) expands questions.
        Raises OSError when the cache cannot be written."""
        corpus = corpus or Corpus(Path(root))
        if embedder is None and degraded_reason is None:
            embedder, degraded_reason = default_embedder(cache_dir)
        # A clause's own text, without its sub-clauses (each is an entry of its own) or its
        # parents' headings: precise passages rank better, and the id says where it sits.
        # Its sentences follow it.
        entries = []
        for doc in corpus.documents():
            region = doc.meta.region
            for clause in doc.clauses:
                entries.append(
                    Entry(doc.id, clause.id, region, clause.text, normalize(clause.text))
                )
                entries.extend(
                    Entry(doc.id, clause.id, region, s.text, normalize(s.text), (s.start, s.end))
                    for s in sentences(clause.text)
                )
        index = open_index(
            cache_dir,
            cls.NAME,
            entries,
            tokenizer=tokenizer or Tokenizer(),
            embedder=embedder,
            lexicon=lexicon,
            degraded_reason=degraded_reason,
            progress=progress,
        )
        return cls(corpus, index)

    @property
    def dense_available(self) -> bool:
        return self.index.dense_available

    @cached_property
    def places(self) -> dict[str, Places]:
        """The places each document covers (kb.places: its region, and those its text names),
        for questions about elsewhere."""
        return {
            document: Places(
                [self._regions[document]],
                "\n".join(self.index.entries[row].passage for row in rows),
            )
            for document, rows in self._rows.items()
        }

    @cached_property
    def _own_places(self) -> frozenset[str]:
        # The documents' regions are places a question may name, whether jieba knows them.
        return own_places(self._regions.values())

    @property
    def degraded_reason(self) -> str | None:
        return self.index.degraded_reason

    def _filter(self, region: str | None, documents: Iterable[str] | None) -> list[int] | None:
        """Clause rows of the documents that pass both filters; None when nothing is filtered."""
        if region is None and documents is None:
            return None
        wanted = self._rows.keys() if documents is None else set(documents)
        return sorted(
            row
            for document, rows in self._rows.items()
            if document in wanted and region_matches(self._regions[document], region)
            for row in rows
        )

    def candidates(
        self,
        query: str,
        k: int = 10,
        region: str | None = None,
        documents: Iterable[str] | None = None,
        *,
        mode: Mode | Fusion = "pipeline",
    ) -> tuple[Query, list[Candidate]]:
        """The `k` best clauses with their relevance features (what `search` calibrates;
        bench/fit_search.py fits the calibration on them, and tries other fusions)."""
        fusion = FUSIONS[mode] if isinstance(mode, str) else mode
        prepared = self.index.query(query, fusion.expand)
        rows = self._filter(region, documents)
        scored = self.index.search(prepared, k, rows, mode)
        best = fusion.best(any(s.dense is not None for s in scored))
        kinds = asks(query)
        # A hit is about elsewhere when the question names places and its document covers
        # none of them: another document's city, or one no document covers. The question is
        # read for place names once.
        names = named(query, self._own_places)
        elsewhere = {
            document: self.places[document].elsewhere(names)
            for document in {self.index.entries[s.row].document for s in scored}
        }
        novel = novel_share(prepared, self.index.bm25)
        coverages = self.index.coverage(prepared, [[s.row] for s in scored])
        out = []
        for s, coverage in zip(scored, coverages, strict=True):
            entry = self.index.entries[s.row]
            lacking = bool(kinds) and lacks(kinds, entry.text)
            features = Features(
                s.dense, coverage, s.score / best, lacking, elsewhere[entry.document], novel
            )
            out.append(Candidate(s, features))
        return prepared, out

    def search(
        self,
        query: str,
        k: int = 10,
        region: str | None = None,
        documents: Iterable[str] | None = None,
        *,
        mode: Mode = "pipeline",
    ) -> list[Hit]:
        """The `k` clauses that best answer `query`, best first, within `region` and
        `documents` when given. `mode` selects another fusion (for evaluation).

        The fused top RERANK (or `k`, if more) are ordered by their calibrated score, which
        weighs what fusion cannot see (the share of the question's words a clause holds, the
        kind of answer asked for, the question's nouns that no document uses), and the first
        `k` are returned."""
        if k <= 0:
            return []
        prepared, found = self.candidates(query, max(k, RERANK), region, documents, mode=mode)
        model = relevance_model(mode, dense=any(c.features.cosine is not None for c in found))
        scores = [model.score(c.features) for c in found]
        # Stable: equal scores keep the fused order.
        best = sorted(range(len(found)), key=lambda i: -scores[i])[:k]
        return [
            self._hit(found[i].scored, scores[i], self._level(model, found[i], scores[i]), prepared)
            for i in best
        ]

    @staticmethod
    def _level(model: Relevance, candidate: Candidate, score: float) -> Level | None:
        # A document answers for its own places: its clause does not answer a question about
        # places it does not cover (another document's city, or one no document covers),
        # however close their words; the score still ranks it among the nearest.
        return None if candidate.features.elsewhere else model.level(score)

    def _hit(self, scored: Scored, score: float, level: Level | None, query: Query) -> Hit:
        entry = self.index.entries[scored.row]
        sentence = None
        if scored.sentence is not None:
            sentence = self.index.entries[scored.sentence].span
        highlights = highlight_spans(entry.text, query.words)
        return Hit(entry.document, entry.key, entry.text, score, highlights, level, sentence)

    def clause(self, document: str, clause: str) -> str:
        """The clause's full text (with its sub-clauses), verbatim from the source.

        Raises kb.corpus.UnknownDocument or UnknownClause (which suggests near ids)."""
        return self.corpus.document(document).require(clause).full_text

    def related(self, text: str, exclude_document: str | None = None, k: int = 5) -> list[Hit]:
        """Clauses of OTHER documents that say something close to `text` (a cited clause):
        the same search, with `text` as the query, outside `exclude_document`."""
        others = [doc for doc in self._rows if doc != exclude_document]
        return self.search(text, k, documents=others)
