"""The embedder interface the index depends on, its real implementation and a test fake.

`E5Embedder` runs multilingual-e5-small (get one from `kb.model.load_embedder`); loading it
takes seconds, so the index only ever sees the `Embedder` protocol and tests pass the
deterministic `HashEmbedder` instead.
"""

from __future__ import annotations

import hashlib
import itertools
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

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
