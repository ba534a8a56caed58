"""The dense half of the index: the unit passage vectors, kept as an exact faiss flat index.

The embedder returns L2-normalised rows (kb.embed.Embedder), so the inner product is the cosine
similarity. Search needs every row's cosine, not the nearest few: a clause is scored by the best
of itself and its sentences (kb.index), so kb.index multiplies the query by all the vectors
(`vectors()`), which is exact and, at 5,000 clauses and their sentences x 384 floats, a few
milliseconds; an approximate index would buy nothing and make results depend on training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kb.embed import FloatMatrix

__all__ = ["DenseIndex"]


class DenseIndex:
    """faiss `IndexFlatIP`; rows are numbered in the order the vectors were added."""

    FILE = "dense.faiss"

    def __init__(self, index: Any) -> None:
        self._index = index

    @classmethod
    def build(cls, vectors: FloatMatrix) -> DenseIndex:
        import faiss

        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        if matrix.ndim != 2:
            raise ValueError(f"expected a 2-d matrix of passage vectors, got shape {matrix.shape}")
        index = faiss.IndexFlatIP(matrix.shape[1])
        index.add(matrix)
        return cls(index)

    def save(self, folder: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(folder / self.FILE))

    @classmethod
    def load(cls, folder: Path) -> DenseIndex:
        import faiss

        return cls(faiss.read_index(str(folder / cls.FILE)))

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def vectors(self) -> FloatMatrix:
        """All stored unit vectors, one row each (a copy: 1.5 KB per row)."""
        return np.asarray(self._index.reconstruct_n(0, self.size), dtype=np.float32)
