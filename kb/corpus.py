"""The source documents as clauses: `Corpus` reads policies/sources and answers lookups.

`Corpus(root)` implements dsl.sources.ClauseSource for the project at `root` (the directory
that holds policies/sources) structurally: kb never imports dsl, and tests/test_corpus.py
checks that the two still agree. Documents are read and segmented on first use, once each.

    LookupError
     ├── UnknownDocument   a document id that is not in policies/sources
     └── UnknownClause     a clause id that is not in the document (from `Document.require`)
    ValueError
     └── SourceError       a malformed source file (kb.ingest)

Protocol behaviour for ids that do not exist: `has_document` is False, `clause_text` is None
(unknown document or unknown clause, as the protocol asks), and `clause_ids` raises
UnknownDocument, which lists the known ids. `clause` returns None for an unknown clause.
Clause ids are looked up after `canonical_id`, so 四．（一）．1 or 一.(二).-1 also work, and
a bare item number names the one clause it numbers when no other clause ends with it (16 for
二.(三).16). `nearest_ids` is the one suggester for an id that names none.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from kb.ingest import Metadata, SourceError, read_metadata, sources_dir
from kb.normalize import normalize
from kb.segment import Clause, canonical_id, segment

__all__ = [
    "Corpus",
    "Document",
    "SourceError",
    "UnknownClause",
    "UnknownDocument",
    "nearest_ids",
]


class UnknownDocument(LookupError):
    """A document id with no source; the message lists the ids that exist."""

    def __init__(self, document: str, known: Sequence[str]) -> None:
        self.document = document
        self.known = tuple(known)
        listing = ", ".join(self.known) if self.known else "none (policies/sources is empty)"
        super().__init__(f"unknown source document {document!r}; known documents: {listing}")


class UnknownClause(LookupError):
    """A clause id that a document does not have; the message suggests near ids."""

    def __init__(self, document: str, clause: str, known: Sequence[str]) -> None:
        self.document = document
        self.clause = clause
        self.suggestions = tuple(nearest_ids(clause, known))
        hint = f"; did you mean {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(
            f"document {document!r} has no clause {clause!r}{hint} "
            f"(`zhengce kb show {document}` lists its clauses)"
        )


def nearest_ids(clause: str, known: Sequence[str], n: int = 5) -> list[str]:
    """Up to `n` ids of `known` near a reference that names none: first those numbered the
    same at their last level (a bare 1 that several sections have), then the closest spellings."""
    wanted = canonical_id(clause)
    last = wanted.rsplit(".", 1)[-1]
    numbered = [k for k in known if k.rsplit(".", 1)[-1] == last and k != wanted]
    spelled = difflib.get_close_matches(wanted, known, n=n, cutoff=0.5)
    return list(dict.fromkeys(numbered + spelled))[:n]


@dataclass(frozen=True)
class Document:
    """A source document: its metadata, cleaned text and clauses in reading order."""

    meta: Metadata
    text: str
    clauses: tuple[Clause, ...]

    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def title(self) -> str:
        return self.meta.title

    @cached_property
    def _by_id(self) -> dict[str, Clause]:
        return {clause.id: clause for clause in self.clauses}

    def clause_ids(self) -> list[str]:
        return [clause.id for clause in self.clauses]

    @cached_property
    def _by_last_label(self) -> dict[str, list[Clause]]:
        found: dict[str, list[Clause]] = {}
        for clause in self.clauses:
            found.setdefault(clause.id.rsplit(".", 1)[-1], []).append(clause)
        return found

    def clause(self, clause_id: str) -> Clause | None:
        """The clause with this id (typed variants accepted, see canonical_id), or the one
        clause a bare item number names (16 for 二.(三).16, when no other ends with 16)."""
        found = self._by_id.get(clause_id) or self._by_id.get(canonical_id(clause_id))
        bare = canonical_id(clause_id)
        if found is None and "." not in bare:
            numbered = self._by_last_label.get(bare, [])
            found = numbered[0] if len(numbered) == 1 else None
        return found

    def require(self, clause_id: str) -> Clause:
        """Like `clause`, but an unknown id raises UnknownClause with suggestions."""
        found = self.clause(clause_id)
        if found is None:
            raise UnknownClause(self.id, clause_id, self.clause_ids())
        return found

    def children(self, clause_id: str | None) -> list[Clause]:
        """The direct sub-clauses of a clause; None gives the top-level clauses."""
        return [clause for clause in self.clauses if clause.parent == clause_id]


def load_document(directory: Path, doc_id: str) -> Document:
    """Read <doc_id>.yaml and <doc_id>.txt from `directory` and segment the text."""
    meta = read_metadata(directory / f"{doc_id}.yaml")
    txt = directory / f"{doc_id}.txt"
    try:
        text = txt.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"cannot read the document text ({exc})"
        raise SourceError(txt, problem, "unreadable_source") from exc
    return Document(meta, text, tuple(segment(text)))


class Corpus:
    """All source documents of the project at `root`, loaded lazily; thread-safe."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.directory = sources_dir(root)
        self._lock = threading.Lock()
        self._ids: tuple[str, ...] | None = None
        self._documents: dict[str, Document] = {}

    def document_ids(self) -> list[str]:
        """Ids of every source with a .yaml file, sorted."""
        with self._lock:
            if self._ids is None:
                found = self.directory.glob("*.yaml") if self.directory.is_dir() else []
                self._ids = tuple(sorted(path.stem for path in found))
            return list(self._ids)

    def document(self, doc_id: str) -> Document:
        """The document with this id; UnknownDocument (listing the known ids) if none."""
        known = self.document_ids()
        if doc_id not in known:
            raise UnknownDocument(doc_id, known)
        with self._lock:
            if doc_id not in self._documents:
                self._documents[doc_id] = load_document(self.directory, doc_id)
            return self._documents[doc_id]

    def documents(self) -> list[Document]:
        """Every document, sorted by id."""
        return [self.document(doc_id) for doc_id in self.document_ids()]

    def clause(self, doc_id: str, clause_id: str) -> Clause | None:
        """The clause, None if the document has no such clause; UnknownDocument if no doc."""
        return self.document(doc_id).clause(clause_id)

    def reload(self) -> None:
        """Forget what was read, e.g. after kb.ingest.add_document wrote a new source."""
        with self._lock:
            self._ids = None
            self._documents.clear()

    # dsl.sources.ClauseSource (tests/test_corpus.py keeps these in step with it)

    def has_document(self, document: str) -> bool:
        return document in self.document_ids()

    def clause_ids(self, document: str) -> list[str]:
        return self.document(document).clause_ids()

    def resolve_clause(self, document: str, clause: str) -> str | None:
        if not self.has_document(document):
            return None
        found = self.document(document).clause(clause)
        return found.id if found else None

    def nearest_clauses(self, document: str, clause: str) -> list[str]:
        return nearest_ids(clause, self.clause_ids(document)) if self.has_document(document) else []

    def clause_text(self, document: str, clause: str) -> str | None:
        if not self.has_document(document):
            return None
        found = self.document(document).clause(clause)
        return found.full_text if found else None

    def normalize(self, text: str) -> str:
        return normalize(text)

    def document_region(self, document: str) -> str | None:
        if not self.has_document(document):
            return None
        return self.document(document).meta.region or None

    def document_provenance(self, document: str) -> str | None:
        if not self.has_document(document):
            return None
        return self.document(document).meta.provenance or None
