"""jieba's dictionary by part of speech, read once per process.

Search reads two kinds of word from it: place names (kb.places) and nouns (kb.novel). Reading
its 350,000 lines costs about 0.3 s of CPU, so both come from one pass, at the first question.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

__all__ = ["NOUN_TAGS", "Tags", "tags"]

# Parts of speech that name things: nouns of every kind (n, nr, ns, nt, nz …), verbal and
# adjectival nouns, abbreviations and set phrases.
NOUN_TAGS = ("n", "vn", "an", "j", "l")


@dataclass(frozen=True)
class Tags:
    """`places`: the words tagged ns; `nouns`: the sorted hash() values of the words with a
    tag in NOUN_TAGS (2 MB, where a set of 250,000 strings would take about 30 MB; hash() is
    salted per process, and the array is built and searched in the same one)."""

    places: frozenset[str]
    nouns: npt.NDArray[np.int64]

    def is_noun(self, word: str) -> bool:
        key = hash(word)
        at = int(np.searchsorted(self.nouns, key))
        return at < len(self.nouns) and int(self.nouns[at]) == key


@cache
def tags() -> Tags:
    """The dictionary's places and nouns (read once per process)."""
    import jieba

    places: set[str] = set()
    # Machine integers, not a list of 250,000 int objects, which left a worker 11 MB larger.
    nouns = array("q")
    with jieba.get_dict_file() as lines:
        for raw in lines:
            parts = raw.decode("utf-8").split()
            if len(parts) != 3:
                continue
            if parts[2] == "ns":
                places.add(parts[0])
            if parts[2].startswith(NOUN_TAGS):
                nouns.append(hash(parts[0]))
    return Tags(frozenset(places), np.unique(np.frombuffer(nouns, dtype=np.int64)))
