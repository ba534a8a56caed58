"""The domain lexicon: how people ask (拿地, 报备, 租的厂房) beside how the documents say it
(供地, 备案, 租赁存量厂房), so that search finds the clause a question paraphrases.

The lexicon is content, written by drafters in `policies/lexicon.yaml` (the caller passes its
path: kb reads no project layout):

    terms:
      - official: 非供地类项目            # the documents' words (one, or a list)
        colloquial: [不用拿地, 不拿地]     # how people say it
      - official: [备案]
        colloquial: [报备]

A question is expanded once, before it is searched: every colloquial phrase found in it (after
kb.normalize, lower-cased, longest first, no two overlapping) adds its official terms, unless
the question already says them. BM25 searches the question's tokens plus the official terms'
tokens; the dense query is the question followed by the official terms, so the embedding
moves toward the documents' vocabulary without losing the question's own words. Matching the
longest phrase first keeps a negation whole: with entries for 不用拿地 and 拿地, "不用拿地的项目"
adds only the first entry's terms.

A malformed file raises LexiconError naming the file, the line and what is wrong; kb.lexicon_file
reads the file and checks its content for `zhengce check`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from kb.lexicon_file import phrase_key, read_lexicon_file

__all__ = ["Expansion", "Lexicon", "LexiconError", "Term", "load_lexicon"]


class LexiconError(ValueError):
    """The lexicon file cannot be used; `message` is Chinese and says where."""

    def __init__(self, path: Path, line: int | None, problem: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        self.path, self.line, self.problem = path, line, problem
        super().__init__(f"{where}: 检索词表有误：{problem}")


@dataclass(frozen=True)
class Term:
    """One entry: the official terms and the colloquial phrases that stand for them."""

    official: tuple[str, ...]
    colloquial: tuple[str, ...]


@dataclass(frozen=True)
class Expansion:
    """A question with what the lexicon adds: `added` are official terms, in the order their
    phrases occur; `matched` the colloquial phrases found (normalised)."""

    query: str
    added: tuple[str, ...]
    matched: tuple[str, ...]

    @property
    def dense_text(self) -> str:
        """The text the dense query embeds: the question, then the official terms."""
        return self.query if not self.added else f"{self.query}（{'、'.join(self.added)}）"


class Lexicon:
    """Colloquial phrase -> official terms, matched longest first."""

    def __init__(self, terms: Iterable[Term] = ()) -> None:
        self.terms = tuple(terms)
        table: dict[str, list[str]] = {}
        for term in self.terms:
            for phrase in term.colloquial:
                targets = table.setdefault(phrase_key(phrase), [])
                targets.extend(t for t in term.official if t not in targets)
        self._table = {phrase: tuple(t) for phrase, t in table.items() if phrase}
        self._lengths = sorted({len(p) for p in self._table}, reverse=True)

    @cached_property
    def fingerprint(self) -> str:
        """Changes with any entry; part of a cache key where expansions are stored."""
        rows = sorted(f"{p}\t{'|'.join(t)}" for p, t in self._table.items())
        return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]

    def expand(self, query: str) -> Expansion:
        text = phrase_key(query)
        added: dict[str, None] = {}
        matched: list[str] = []
        i = 0
        while i < len(text):
            for n in self._lengths:
                phrase = text[i : i + n]
                if len(phrase) == n and phrase in self._table:
                    matched.append(phrase)
                    added.update(
                        (t, None) for t in self._table[phrase] if phrase_key(t) not in text
                    )
                    i += n
                    break
            else:
                i += 1
        return Expansion(query, tuple(added), tuple(matched))


def load_lexicon(path: Path | None) -> Lexicon:
    """The lexicon at `path`; an empty one when `path` is None or names no file. Raises
    LexiconError naming the first problem of the file's shape (kb.lexicon_file)."""
    if path is None or not path.is_file():
        return Lexicon()
    read = read_lexicon_file(path)
    if read.issues:
        first = read.issues[0]
        raise LexiconError(path, first.line or None, first.message)
    return Lexicon(
        Term(tuple(w.text for w in e.official), tuple(w.text for w in e.colloquial))
        for e in read.entries
    )
