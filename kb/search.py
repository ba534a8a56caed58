"""Search the source documents clause by clause, and match free text to items (routing rules).

    kb = KnowledgeBase.open(root, cache_dir)      # builds model + index once, then reuses them
    kb.search("非供地项目投资多少要备案", k=5, region="甘肃省/平凉市")  -> [Hit, ...]
    kb.clause("pingliang-2023", "二.4")           -> the clause's full text, by id
    kb.related(cited_text, exclude_document="pingliang-2023", k=5)  -> [Hit, ...] elsewhere

    items = ItemIndex.open(cache_dir, "routes", [Item(id, text, region), ...], embedder)
    items.match("园区遇到困难找谁协调", region="甘肃省/平凉市")  -> ItemAnswer(match, candidates)
    (kb.items; re-exported here)

The caller chooses the cache directory; it holds the rebuilt model (kb.model.model_dir) and
the index folders (kb.index). Without the model, search is BM25 only and says so
(`dense_available`, `degraded_reason`, a DenseUnavailableWarning).

Region filter: a document matches a region when one region path contains the other, segment
by segment: a 江西省/南昌市 question sees 江西省 documents, and a 江西省 question sees
documents of its cities. An entry with no region matches every region.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kb.corpus import Corpus
from kb.embed import Embedder, default_embedder
from kb.index import Entry, HybridIndex, Mode, Scored, open_index
from kb.items import Item, ItemAnswer, ItemIndex, ItemMatch, match_items, region_matches
from kb.lexical import Tokenizer, highlight_spans
from kb.normalize import normalize

__all__ = [
    "Hit",
    "Item",
    "ItemAnswer",
    "ItemIndex",
    "ItemMatch",
    "KnowledgeBase",
    "match_items",
    "region_matches",
]


@dataclass(frozen=True)
class Hit:
    """A clause found by search. `text` is the clause's own text in the document's script;
    `highlights` are (start, end) spans of `text` where query words occur; `score` is the
    reciprocal-rank-fusion score (higher is better; at most 2/61 ≈ 0.033), or the BM25 score or
    cosine when searching in one mode alone."""

    document: str
    clause: str
    text: str
    score: float
    highlights: tuple[tuple[int, int], ...]


class KnowledgeBase:
    """The clause index of a project's source documents."""

    NAME = "clauses"

    def __init__(self, corpus: Corpus, index: HybridIndex) -> None:
        self.corpus = corpus
        self.index = index
        self._regions: dict[str, str] = {}
        self._rows: dict[str, list[int]] = {}
        for row, entry in enumerate(index.entries):
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
    ) -> KnowledgeBase:
        """Open (building if needed) the index of the documents under `root`, cached in
        `cache_dir`.

        `embedder=None` uses multilingual-e5-small from the cache (built on first use); pass a
        kb.embed.HashEmbedder in tests. `tokenizer` lets indexes share one jieba dictionary
        (~1 s and tens of MB each). Raises OSError when the cache cannot be written."""
        corpus = corpus or Corpus(Path(root))
        if embedder is None and degraded_reason is None:
            embedder, degraded_reason = default_embedder(cache_dir)
        # A clause's own text, without its sub-clauses (each is an entry of its own) or its
        # parents' headings: precise passages rank better, and the id says where it sits.
        entries = [
            Entry(doc.id, clause.id, doc.meta.region, clause.text, normalize(clause.text))
            for doc in corpus.documents()
            for clause in doc.clauses
        ]
        index = open_index(
            cache_dir,
            cls.NAME,
            entries,
            tokenizer=tokenizer or Tokenizer(),
            embedder=embedder,
            degraded_reason=degraded_reason,
            progress=progress,
        )
        return cls(corpus, index)

    @property
    def dense_available(self) -> bool:
        return self.index.dense_available

    @property
    def degraded_reason(self) -> str | None:
        return self.index.degraded_reason

    def _filter(self, region: str | None, documents: Iterable[str] | None) -> list[int] | None:
        """Rows of the documents that pass both filters; None when nothing is filtered."""
        if region is None and documents is None:
            return None
        wanted = self._rows.keys() if documents is None else set(documents)
        return sorted(
            row
            for document, rows in self._rows.items()
            if document in wanted and region_matches(self._regions[document], region)
            for row in rows
        )

    def search(
        self,
        query: str,
        k: int = 10,
        region: str | None = None,
        documents: Iterable[str] | None = None,
        *,
        mode: Mode = "hybrid",
    ) -> list[Hit]:
        """The `k` clauses that best answer `query`, best first, within `region` and
        `documents` when given. `mode` selects BM25 or dense alone (for evaluation)."""
        rows = self._filter(region, documents)
        scored = self.index.search(query, k, rows, mode)
        return self._hits(scored, query)

    def _hits(self, scored: Sequence[Scored], query: str) -> list[Hit]:
        terms = self.index.tokenizer.tokens(query)
        hits = []
        for s in scored:
            entry = self.index.entries[s.row]
            highlights = highlight_spans(entry.text, terms)
            hits.append(Hit(entry.document, entry.key, entry.text, s.score, highlights))
        return hits

    def clause(self, document: str, clause: str) -> str:
        """The clause's full text (with its sub-clauses), verbatim from the source.

        Raises kb.corpus.UnknownDocument or UnknownClause (which suggests near ids)."""
        return self.corpus.document(document).require(clause).full_text

    def related(self, text: str, exclude_document: str | None = None, k: int = 5) -> list[Hit]:
        """Clauses of OTHER documents that say something close to `text` (a cited clause):
        the same hybrid search, with `text` as the query, outside `exclude_document`."""
        others = [doc for doc in self._rows if doc != exclude_document]
        rows = self._filter(None, others)
        return self._hits(self.index.search(text, k, rows), text)
