"""Answers the Searcher already gave, and query vectors it already computed, kept for the next
time they are asked (ZHENGCE_SEARCH_CACHE of each, least recently used first out).

A route request spent about 6 of its 7 ms of CPU embedding the question (issue 15), and the
questions people ask a park's routing repeat: the same matter from the search page's route
cards (one question asked in each covered region), from a form re-sent, from a reviewer's
list. A hit costs a dictionary lookup.

Nothing here knows when an answer goes stale: the Searcher that owns the caches is made with
its policy set and its corpus and dropped with them on a reload, so a cached answer is always
one of the revision being served. Keys hold every input that changes an answer (server.search
says which); values are frozen results or read-only vectors, shared safely between threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

import numpy as np

from kb.embed import Embedder, FloatMatrix

__all__ = ["CachedQueries", "Lru"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """At most `size` values, the least recently used dropped first; `size` 0 keeps none.
    Safe to share between threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._values: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, key: K) -> bool:
        with self._lock:
            return key in self._values

    def get(self, key: K, compute: Callable[[], V]) -> V:
        """The value kept for `key`, or `compute()`'s, kept. Two threads that miss the same
        key at once both compute it, outside the lock: the answers are equal, and one slow
        question must not hold up every other."""
        if self.size <= 0:
            return compute()
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
        value = compute()
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self.size:
                self._values.popitem(last=False)
        return value


class CachedQueries:
    """An Embedder whose single-question `encode_queries` answers are remembered by text, so
    that one question asked of both indexes, in several regions or on several dates is
    embedded once; every other call goes to `inner`."""

    def __init__(self, inner: Embedder, size: int) -> None:
        self.inner = inner
        self._vectors: Lru[str, FloatMatrix] = Lru(size)

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def fingerprint(self) -> str:
        return self.inner.fingerprint

    def encode_queries(self, texts: Sequence[str]) -> FloatMatrix:
        if len(texts) != 1:
            return self.inner.encode_queries(texts)
        return self._vectors.get(texts[0], lambda: _frozen(self.inner.encode_queries(texts)))

    def encode_passages(self, texts: Sequence[str]) -> FloatMatrix:
        return self.inner.encode_passages(texts)


def _frozen(vectors: FloatMatrix) -> FloatMatrix:
    # Handed to every later caller: one that wrote into it would change their answers.
    kept = np.array(vectors, copy=True)
    kept.flags.writeable = False
    return kept
