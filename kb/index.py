"""The persisted hybrid index: BM25 and dense search over entries, fused by reciprocal rank.

An entry is plain data (`Entry`: document, key, region, display text, passage), so the same
index serves clauses (kb.search.KnowledgeBase) and routing items (kb.search.ItemIndex).

On disk, one folder per index under the cache directory:

    <cache>/<name>-<key>/        key = sha256 of everything the index depends on (below)
      meta.json                  format, counts, fingerprints, build time; written last
      entries.json               the entry table, in row order
      bm25/                      bm25s's arrays
      dense.faiss                the faiss index (absent when built without a model)
    <cache>/.index.lock          builds take it exclusively, loads shared

The key hashes INDEX_FORMAT, the entries (so any change to a source text), the tokenizer's
fingerprint (terms.txt) and the embedder's fingerprint (model file and builder version), so a
change to any of them selects a new folder and it is built; an unchanged corpus reopens the
folder without encoding anything. A folder is built under a temporary name and renamed into
place, so it is complete or absent; a successful dense build removes the stale folders of the
same name (a degraded, lexical-only build removes nothing, so that a model outage does not
throw away a good dense index).

Without a model (`embedder=None`, or encoding raises ModelUnavailable) the index is lexical
only and says so: `dense_available` is False, `degraded_reason` says why, and a
DenseUnavailableWarning is issued — never a silent fallback.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np

from kb.dense import DenseIndex
from kb.embed import Embedder, FloatMatrix
from kb.filelock import lock
from kb.lexical import Bm25, Tokenizer
from kb.model import ModelUnavailable

__all__ = [
    "RRF_K",
    "DenseUnavailableWarning",
    "Entry",
    "HybridIndex",
    "Mode",
    "Scored",
    "open_index",
]

INDEX_FORMAT = 1
# Reciprocal-rank fusion constant (Cormack et al. 2009 use 60). With two lists it only sets how
# much a first place outweighs a tenth; measured on tests/data/kb_questions.yaml, see bench/kb.py.
RRF_K = 60
# How deep each list is read before fusing: far below it a clause contributes almost nothing.
DEPTH = 100
_BATCH = 32
_LOCK = ".index.lock"
_META = "meta.json"
_ENTRIES = "entries.json"

Mode = Literal["hybrid", "lexical", "dense"]


class DenseUnavailableWarning(UserWarning):
    """Dense (semantic) search is off; results come from BM25 alone."""


@dataclass(frozen=True)
class Entry:
    """One indexed item: `passage` is tokenised and embedded, `text` is what people see."""

    document: str
    key: str
    region: str
    text: str
    passage: str


@dataclass(frozen=True)
class Scored:
    """A row of the index with its score under the mode searched (RRF for hybrid, BM25 for
    lexical, cosine for dense) and both components, for explanations and thresholds."""

    row: int
    score: float
    lexical: float
    dense: float | None


class HybridIndex:
    """An opened index; read-only and safe to share between threads once opened."""

    def __init__(
        self,
        *,
        folder: Path,
        entries: tuple[Entry, ...],
        tokenizer: Tokenizer,
        bm25: Bm25,
        dense: DenseIndex | None,
        embedder: Embedder | None,
        degraded_reason: str | None,
        built: bool,
        build_seconds: float,
    ) -> None:
        self.folder = folder
        self.entries = entries
        self.tokenizer = tokenizer
        self.bm25 = bm25
        self._dense = dense
        self._embedder = embedder
        self.degraded_reason = degraded_reason
        self.built = built  # True when this call built the folder, False when it reused it
        self.build_seconds = build_seconds

    @property
    def dense_available(self) -> bool:
        return self._dense is not None and self._embedder is not None

    def _degrade(self, reason: str) -> None:
        self._embedder = None
        self.degraded_reason = reason
        warnings.warn(_warning(reason), stacklevel=3)

    def embed_query(self, query: str) -> FloatMatrix | None:
        """The query's unit vector, or None when dense search is unavailable."""
        if self._embedder is None or self._dense is None:
            return None
        try:
            vectors: FloatMatrix = self._embedder.encode_queries([query])
        except ModelUnavailable as exc:
            self._degrade(str(exc))
            return None
        vector: FloatMatrix = vectors[0]
        return vector

    def search(
        self,
        query: str,
        k: int = 10,
        rows: Sequence[int] | None = None,
        mode: Mode = "hybrid",
        vector: FloatMatrix | None = None,
    ) -> list[Scored]:
        """The best `k` rows for `query` (restricted to `rows` if given), best first.

        `vector` is the query's embedding when the caller already has it (it is embedded
        here otherwise)."""
        if k <= 0 or not self.entries or (rows is not None and not rows):
            return []
        lexical: dict[int, float] = {}
        lexical_rank: list[int] = []
        if mode != "dense":
            scores = self.bm25.scores(self.tokenizer.tokens(query))
            candidates = np.arange(len(scores)) if rows is None else np.asarray(rows)
            picked = candidates[scores[candidates] > 0]
            # Stable sort on the negated score: ties keep row order, so results are repeatable.
            order = picked[np.argsort(-scores[picked], kind="stable")][:DEPTH]
            lexical_rank = [int(r) for r in order]
            lexical = {r: float(scores[r]) for r in lexical_rank}
        dense: dict[int, float] = {}
        dense_rank: list[int] = []
        if mode != "lexical" and self._dense is not None:
            if vector is None:
                vector = self.embed_query(query)
            if vector is not None:
                hits = self._dense.search(vector, DEPTH, rows)
                dense_rank = [row for row, _ in hits]
                dense = dict(hits)
        if mode == "lexical":
            fused = [(r, lexical[r]) for r in lexical_rank]
        elif mode == "dense":
            fused = [(r, dense[r]) for r in dense_rank]
        else:
            rrf: dict[int, float] = {}
            for ranking in (lexical_rank, dense_rank):
                for rank, row in enumerate(ranking, start=1):
                    rrf[row] = rrf.get(row, 0.0) + 1.0 / (RRF_K + rank)
            # Ties are common with two lists (first + second place = second + first); the
            # cosine breaks them, being an absolute similarity, where BM25 favours short
            # passages such as headlines. Then BM25, then row order: always repeatable.
            fused = sorted(
                rrf.items(),
                key=lambda item: (
                    -item[1],
                    -dense.get(item[0], -2.0),
                    -lexical.get(item[0], 0.0),
                    item[0],
                ),
            )
        return [
            Scored(row, score, lexical.get(row, 0.0), dense.get(row)) for row, score in fused[:k]
        ]

    @cached_property
    def passage_vectors(self) -> FloatMatrix | None:
        """Every row's stored embedding (row order), None without a dense index."""
        return None if self._dense is None else self._dense.vectors()


def _warning(reason: str) -> DenseUnavailableWarning:
    return DenseUnavailableWarning(
        f"semantic search is off, results come from BM25 alone: {reason}"
        " (`zhengce kb build` rebuilds the model and index once it is available)"
    )


def index_key(
    name: str, entries: Sequence[Entry], tokenizer: Tokenizer, embedder: Embedder | None
) -> str:
    digest = hashlib.sha256()
    header = [INDEX_FORMAT, name, tokenizer.fingerprint, embedder.fingerprint if embedder else ""]
    digest.update(json.dumps(header, ensure_ascii=False).encode())
    for entry in entries:
        digest.update(json.dumps(astuple(entry), ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:16]


def open_index(
    cache_dir: Path,
    name: str,
    entries: Sequence[Entry],
    *,
    tokenizer: Tokenizer,
    embedder: Embedder | None,
    degraded_reason: str | None = None,
    progress: bool = False,
) -> HybridIndex:
    """Open the index of `entries` under `cache_dir`, building it if it is missing or stale.

    `embedder=None` means no model: the index is lexical only, `degraded_reason` says why (a
    warning is issued). Raises OSError when the cache directory cannot be written.
    """
    entries = tuple(entries)
    cache_dir.mkdir(parents=True, exist_ok=True)
    if embedder is None:
        reason = degraded_reason or "no embedding model was given"
        warnings.warn(_warning(reason), stacklevel=2)
        return _open_or_build(cache_dir, name, entries, tokenizer, None, reason, progress)
    try:
        return _open_or_build(cache_dir, name, entries, tokenizer, embedder, None, progress)
    except ModelUnavailable as exc:
        warnings.warn(_warning(str(exc)), stacklevel=2)
        return _open_or_build(cache_dir, name, entries, tokenizer, None, str(exc), progress)


def _open_or_build(
    cache_dir: Path,
    name: str,
    entries: tuple[Entry, ...],
    tokenizer: Tokenizer,
    embedder: Embedder | None,
    reason: str | None,
    progress: bool,
) -> HybridIndex:
    folder = cache_dir / f"{name}-{index_key(name, entries, tokenizer, embedder)}"
    with lock(cache_dir / _LOCK, shared=True):
        if (folder / _META).is_file():
            return _load(folder, entries, tokenizer, embedder, reason)
    with lock(cache_dir / _LOCK):
        if (folder / _META).is_file():  # another process built it while we waited
            return _load(folder, entries, tokenizer, embedder, reason)
        own = re.compile(rf"{re.escape(name)}-[0-9a-f]{{16}}")
        siblings = [p for p in cache_dir.iterdir() if own.fullmatch(p.name) and p != folder]
        known = _known_vectors(siblings, embedder) if embedder is not None else {}
        seconds = _build(folder, entries, tokenizer, embedder, known, progress)
        if embedder is not None:
            for stale in siblings:
                shutil.rmtree(stale, ignore_errors=True)
        index = _load(folder, entries, tokenizer, embedder, reason)
    index.built, index.build_seconds = True, seconds
    return index


def _load(
    folder: Path,
    entries: tuple[Entry, ...],
    tokenizer: Tokenizer,
    embedder: Embedder | None,
    reason: str | None,
) -> HybridIndex:
    meta = json.loads((folder / _META).read_text(encoding="utf-8"))
    stored = json.loads((folder / _ENTRIES).read_text(encoding="utf-8"))
    # The key already hashes the entries; comparing them too catches a hash-prefix collision
    # or a folder edited by hand, at the cost of one JSON parse.
    if [tuple(row) for row in stored] != [astuple(e) for e in entries]:
        raise RuntimeError(f"index folder {folder} does not hold the entries its name promises")
    dense = DenseIndex.load(folder) if embedder is not None else None
    return HybridIndex(
        folder=folder,
        entries=entries,
        tokenizer=tokenizer,
        bm25=Bm25.load(folder),
        dense=dense,
        embedder=embedder,
        degraded_reason=reason,
        built=False,
        build_seconds=float(meta["build_seconds"]),
    )


def _known_vectors(siblings: list[Path], embedder: Embedder) -> dict[str, FloatMatrix]:
    """Passage -> vector from older builds by the same model, so that editing one document
    (or one policy, for the routing index) re-embeds only the passages that changed."""
    known: dict[str, FloatMatrix] = {}
    for folder in siblings:
        try:
            meta = json.loads((folder / _META).read_text(encoding="utf-8"))
            if meta.get("embedder") != embedder.fingerprint:
                continue
            rows = json.loads((folder / _ENTRIES).read_text(encoding="utf-8"))
            vectors = DenseIndex.load(folder).vectors()
        except (OSError, ValueError, RuntimeError):
            continue  # an unreadable leftover is simply not reused
        if len(rows) == len(vectors):
            known.update((row[-1], vector) for row, vector in zip(rows, vectors, strict=True))
    return known


def _build(
    folder: Path,
    entries: tuple[Entry, ...],
    tokenizer: Tokenizer,
    embedder: Embedder | None,
    known: dict[str, FloatMatrix],
    progress: bool,
) -> float:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    started = time.perf_counter()
    tmp = folder.parent / f".tmp-{folder.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not progress,
    )
    try:
        with bar:
            task = bar.add_task(f"tokenising {folder.name}", total=len(entries))
            tokens = []
            for entry in entries:
                tokens.append(tokenizer.tokens(entry.passage))
                bar.advance(task)
            Bm25.build(tokens).save(tmp)
            if embedder is not None:
                unique = list(dict.fromkeys(e.passage for e in entries))
                # By length, so that each batch pads its passages to similar lengths.
                todo = sorted((p for p in unique if p not in known), key=len)
                task = bar.add_task(
                    f"embedding passages ({len(unique) - len(todo)} reused)", total=len(todo)
                )
                vectors = dict(known)
                for start in range(0, len(todo), _BATCH):
                    batch = todo[start : start + _BATCH]
                    vectors.update(zip(batch, embedder.encode_passages(batch), strict=True))
                    bar.advance(task, len(batch))
                matrix = np.zeros((len(entries), embedder.dim), dtype=np.float32)
                for row, entry in enumerate(entries):
                    matrix[row] = vectors[entry.passage]
                DenseIndex.build(matrix).save(tmp)
        rows = [list(astuple(e)) for e in entries]
        (tmp / _ENTRIES).write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
        seconds = time.perf_counter() - started
        meta = {
            "format": INDEX_FORMAT,
            "entries": len(entries),
            "tokenizer": tokenizer.fingerprint,
            "embedder": embedder.fingerprint if embedder else None,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_seconds": round(seconds, 3),
        }
        (tmp / _META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return seconds
