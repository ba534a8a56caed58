"""The index on disk: one folder per index under the cache directory, built once and reused.

    <cache>/<name>-<key>/        key = sha256 of everything the index depends on (below)
      meta.json                  format, counts, fingerprints, build time; written last
      entries.json               the entry table, in row order
      bm25/, grams/              bm25s's arrays for the passages' words and bigrams
      dense.npy                  every entry's vector (absent when built without a model)
    <cache>/.index.lock          builds take it exclusively, loads shared

The key hashes INDEX_FORMAT, the entries (so any change to a source text or to how it is cut
into sentences), the tokenizer's fingerprint (terms.txt and the tokenisation rules, bigrams
included), the lexicon's fingerprint (its entries shape every query, so an index is never
reused under another lexicon) and the embedder's fingerprint (model file and builder
version), so a change to any of them selects a new folder and it is built; an unchanged
corpus reopens the folder without encoding anything. A folder is built under a temporary name
and renamed into place, so it is complete or absent; a successful dense build removes the
stale folders of the same name (a degraded, lexical-only build removes nothing, so that a
model outage does not throw away a good dense index), and re-embeds only the passages that
changed.

Without a model (`embedder=None`, or encoding raises ModelUnavailable) the index is lexical
only and says so (kb.index.DenseUnavailableWarning) — never a silent fallback.
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
from pathlib import Path
from typing import Any

import numpy as np

from kb.dense import DenseIndex
from kb.embed import Embedder, FloatMatrix
from kb.filelock import lock
from kb.index import Entry, HybridIndex, unavailable
from kb.lexical import Bm25, Tokenizer
from kb.lexicon import Lexicon
from kb.model import ModelUnavailable

__all__ = ["INDEX_FORMAT", "index_key", "open_index"]

INDEX_FORMAT = 3  # 3: the vectors as a NumPy array file (kb.dense), not a faiss index
_BATCH = 32
_LOCK = ".index.lock"
_META = "meta.json"
_ENTRIES = "entries.json"
_WORDS, _GRAMS = "bm25", "grams"


def _row(entry: Entry) -> list[Any]:
    """An entry as a JSON row (a span as a two-item list)."""
    return [*astuple(entry)[:-1], list(entry.span) if entry.span else None]


def index_key(
    name: str,
    entries: Sequence[Entry],
    tokenizer: Tokenizer,
    lexicon: Lexicon,
    embedder: Embedder | None,
) -> str:
    digest = hashlib.sha256()
    fingerprints = [tokenizer.fingerprint, lexicon.fingerprint]
    header = [INDEX_FORMAT, name, *fingerprints, embedder.fingerprint if embedder else ""]
    digest.update(json.dumps(header, ensure_ascii=False).encode())
    for entry in entries:
        digest.update(json.dumps(_row(entry), ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:16]


def _check(entries: tuple[Entry, ...]) -> None:
    previous: Entry | None = None
    for entry in entries:
        if entry.span is None:
            previous = entry
        elif previous is None or (previous.document, previous.key) != (entry.document, entry.key):
            raise ValueError(f"sentence entry {entry} does not follow its passage")


def open_index(
    cache_dir: Path,
    name: str,
    entries: Sequence[Entry],
    *,
    tokenizer: Tokenizer,
    embedder: Embedder | None,
    lexicon: Lexicon | None = None,
    degraded_reason: str | None = None,
    progress: bool = False,
) -> HybridIndex:
    """Open the index of `entries` under `cache_dir`, building it if it is missing or stale.

    A sentence entry (with a span) must follow its passage. `lexicon` expands questions (none
    when None). `embedder=None` means no model: the index is lexical only, `degraded_reason`
    says why (a warning is issued). Raises OSError when the cache directory cannot be written.
    """
    entries = tuple(entries)
    _check(entries)
    cache_dir.mkdir(parents=True, exist_ok=True)
    setup = _Setup(cache_dir, name, entries, tokenizer, lexicon or Lexicon(), progress)
    if embedder is None:
        reason = degraded_reason or "no embedding model was given"
        warnings.warn(unavailable(reason), stacklevel=2)
        return _open_or_build(setup, None, reason)
    try:
        return _open_or_build(setup, embedder, None)
    except ModelUnavailable as exc:
        warnings.warn(unavailable(str(exc)), stacklevel=2)
        return _open_or_build(setup, None, str(exc))


@dataclass(frozen=True)
class _Setup:
    """What an index is opened from, but the model."""

    cache_dir: Path
    name: str
    entries: tuple[Entry, ...]
    tokenizer: Tokenizer
    lexicon: Lexicon
    progress: bool


def _open_or_build(setup: _Setup, embedder: Embedder | None, reason: str | None) -> HybridIndex:
    cache_dir, name = setup.cache_dir, setup.name
    key = index_key(name, setup.entries, setup.tokenizer, setup.lexicon, embedder)
    folder = cache_dir / f"{name}-{key}"
    with lock(cache_dir / _LOCK, shared=True):
        if (folder / _META).is_file():
            return _load(folder, setup, embedder, reason)
    with lock(cache_dir / _LOCK):
        if (folder / _META).is_file():  # another process built it while we waited
            return _load(folder, setup, embedder, reason)
        own = re.compile(rf"{re.escape(name)}-[0-9a-f]{{16}}")
        siblings = [p for p in cache_dir.iterdir() if own.fullmatch(p.name) and p != folder]
        known = _known_vectors(siblings, embedder) if embedder is not None else {}
        seconds = _build(folder, setup, embedder, known)
        if embedder is not None:
            for stale in siblings:
                shutil.rmtree(stale, ignore_errors=True)
        index = _load(folder, setup, embedder, reason)
    index.built, index.build_seconds = True, seconds
    return index


def _load(
    folder: Path, setup: _Setup, embedder: Embedder | None, reason: str | None
) -> HybridIndex:
    meta = json.loads((folder / _META).read_text(encoding="utf-8"))
    stored = json.loads((folder / _ENTRIES).read_text(encoding="utf-8"))
    # The key already hashes the entries; comparing them too catches a hash-prefix collision
    # or a folder edited by hand, at the cost of one JSON parse.
    if stored != [_row(e) for e in setup.entries]:
        raise RuntimeError(f"index folder {folder} does not hold the entries its name promises")
    dense = DenseIndex.load(folder) if embedder is not None else None
    return HybridIndex(
        folder=folder,
        entries=setup.entries,
        tokenizer=setup.tokenizer,
        lexicon=setup.lexicon,
        bm25=Bm25.load(folder / _WORDS),
        grams=Bm25.load(folder / _GRAMS),
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
        if len(rows) == len(vectors) and meta.get("format") == INDEX_FORMAT:
            known.update((row[4], vector) for row, vector in zip(rows, vectors, strict=True))
    return known


def _build(
    folder: Path, setup: _Setup, embedder: Embedder | None, known: dict[str, FloatMatrix]
) -> float:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    entries, tokenizer = setup.entries, setup.tokenizer
    started = time.perf_counter()
    tmp = folder.parent / f".tmp-{folder.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not setup.progress,
    )
    passages = [e.passage for e in entries if e.span is None]
    try:
        with bar:
            task = bar.add_task(f"tokenising {folder.name}", total=len(passages))
            words, grams = [], []
            for passage in passages:
                words.append(tokenizer.tokens(passage))
                grams.append(tokenizer.grams(passage))
                bar.advance(task)
            for sub, tokens in ((_WORDS, words), (_GRAMS, grams)):
                Bm25.build(tokens).save(tmp / sub)
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
        rows = [_row(e) for e in entries]
        (tmp / _ENTRIES).write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
        seconds = time.perf_counter() - started
        meta = {
            "format": INDEX_FORMAT,
            "entries": len(entries),
            "passages": len(passages),
            "tokenizer": tokenizer.fingerprint,
            "lexicon": setup.lexicon.fingerprint,
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
