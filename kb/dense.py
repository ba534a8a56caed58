"""The dense half of the index: the unit passage vectors, one float32 row per entry.

The embedder returns L2-normalised rows (kb.embed.Embedder), so the inner product is the cosine
similarity. Search needs every row's cosine, not the nearest few: a clause is scored by the best
of itself and its sentences (kb.index), so kb.index multiplies the query by all the vectors
(`vectors()`), which is exact and, at 5,000 clauses and their sentences x 384 floats, a few
milliseconds; an approximate index would buy nothing and make results depend on training.

The rows are kept as a NumPy array file and mapped into memory read-only, not copied: a
server's workers share the pages, and a worker's start reads nothing it does not use. They
used to be a faiss flat index, whose search was never used: it cost every worker 22 MB of
library and 0.1 s to import, and a second copy of every vector (`reconstruct_n`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kb.embed import FloatMatrix

__all__ = ["DenseIndex"]


class DenseIndex:
    """Rows are numbered in the order the vectors were given."""

    FILE = "dense.npy"

    def __init__(self, matrix: FloatMatrix) -> None:
        self._matrix = matrix

    @classmethod
    def build(cls, vectors: FloatMatrix) -> DenseIndex:
        matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        if matrix.ndim != 2:
            raise ValueError(f"expected a 2-d matrix of passage vectors, got shape {matrix.shape}")
        return cls(matrix)

    def save(self, folder: Path) -> None:
        np.save(folder / self.FILE, self._matrix, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> DenseIndex:
        """Raises OSError when the file is missing or unreadable, ValueError when it is not
        a matrix of float32 rows."""
        matrix = np.load(folder / cls.FILE, mmap_mode="r", allow_pickle=False)
        if matrix.ndim != 2 or matrix.dtype != np.float32:
            raise ValueError(f"{folder / cls.FILE} is not a matrix of float32 rows")
        return cls(matrix)

    @property
    def size(self) -> int:
        return int(self._matrix.shape[0])

    @property
    def dim(self) -> int:
        return int(self._matrix.shape[1])

    def vectors(self) -> FloatMatrix:
        """All stored unit vectors, one row each (read-only once loaded: mapped from disk)."""
        return self._matrix
