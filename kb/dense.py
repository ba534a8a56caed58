"""The dense half of the index: an exact faiss inner-product index over unit passage vectors.

The embedder returns L2-normalised rows (kb.embed.Embedder), so the inner product is the cosine
similarity. An exact flat index is the right size here: the seed corpus has a few hundred
clauses and even 5,000 clauses x 384 floats is 7.5 MB, searched in about a millisecond, so an
approximate index would buy nothing and make results depend on training.
"""

from __future__ import annotations

from collections.abc import Sequence
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

    def search(
        self, query: FloatMatrix, k: int, rows: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """The `k` nearest rows to one query vector as (row, cosine), best first; `rows`
        restricts the search to those rows (a region or document filter)."""
        import faiss

        if rows is not None and not rows:
            return []
        vector = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        limit = min(k, self.size if rows is None else len(rows))
        if limit <= 0:
            return []
        params = None
        selector = None  # must outlive the search: params holds only a pointer to it
        if rows is not None:
            selector = faiss.IDSelectorBatch(np.asarray(rows, dtype=np.int64))
            params = faiss.SearchParameters()
            params.sel = selector
        scores, ids = self._index.search(vector, limit, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
