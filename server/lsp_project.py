"""The project an editor works in, as the language server sees it: the folder holding
policies/, its source documents and schema, and the check of an edited file.

The check is `zhengce check`'s (server.service.check) over the whole set, with the edited
file's current text in place of the disk's, so an editor shows exactly what the command would
print once the file is saved. Sources are read once and read again when a file of
policies/sources changes (a drafter adds a document while the editor runs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dsl.errors import Diagnostic
from dsl.load import SCHEMA_FILE, policy_files
from dsl.symbols import Definition, definitions
from kb.corpus import Corpus, Document, UnknownDocument
from kb.ingest import SourceError, sources_dir
from kb.segment import Clause
from server.service import check

POLICIES = "policies"


@dataclass(frozen=True)
class Located:
    """A definition in a file: 0-based line, start and end columns in characters."""

    path: Path
    line: int
    start: int
    end: int


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.corpus = Corpus(root)
        self._sources_seen: tuple[tuple[str, int], ...] = ()

    @staticmethod
    def root_of(path: Path, fallback: Path | None = None) -> Path | None:
        """The nearest folder above `path` whose policies/ holds a schema, else `fallback`
        when it has a policies/ folder, else None."""
        for folder in path.parents:
            if (folder / POLICIES / SCHEMA_FILE).is_file():
                return folder
        if fallback is not None and (fallback / POLICIES).is_dir():
            return fallback
        return None

    @property
    def schema_path(self) -> Path:
        return self.root / POLICIES / SCHEMA_FILE

    def check(self, path: Path, text: str) -> list[Diagnostic]:
        """The diagnostics of the file at `path` holding `text`, checked with the rest of its
        set as it is on disk (the file's own folder when that has a schema, as `zhengce check
        FOLDER` does)."""
        folder = path.parent if (path.parent / SCHEMA_FILE).is_file() else self.root / POLICIES
        # The schema is read as the schema of its folder, never as a policy file.
        paths = [folder] if path == folder / SCHEMA_FILE else [folder, path]
        result, _ = check(self.root, paths, unsaved={path: text})
        return [d for d in result.diagnostics if d.span.path == str(path)]

    # -- sources --------------------------------------------------------------------------
    def document(self, document: str) -> Document | None:
        self._notice_new_sources()
        try:
            return self.corpus.document(document)
        except (UnknownDocument, SourceError):
            return None

    def clause(self, document: str, clause: str) -> Clause | None:
        found = self.document(document)
        return found.clause(clause) if found else None

    def clause_at(self, document: str, clause: str) -> Located | None:
        """Where a clause starts in policies/sources/<document>.txt."""
        found = self.document(document)
        wanted = found.clause(clause) if found else None
        if found is None or wanted is None:
            return None
        # Clauses are slices of the text in reading order: find each after the one before,
        # so a clause whose first words repeat an earlier one's is not found there.
        at = 0
        for c in found.clauses:
            head = (c.text or c.label).split("\n", 1)[0]
            hit = found.text.find(head, at) if head else -1
            at = hit if hit >= 0 else at
            if c.id == wanted.id:
                break
        line = found.text.count("\n", 0, at)
        column = at - (found.text.rfind("\n", 0, at) + 1)
        path = sources_dir(self.root) / f"{document}.txt"
        return Located(path, line, column, column + max(len(wanted.label), 1))

    def _notice_new_sources(self) -> None:
        folder = sources_dir(self.root)
        files = sorted(folder.iterdir()) if folder.is_dir() else []
        seen = tuple((p.name, p.stat().st_mtime_ns) for p in files)
        if seen != self._sources_seen:
            self.corpus.reload()
            self._sources_seen = seen

    # -- the other files ------------------------------------------------------------------
    def policy_definitions(self, open_texts: Mapping[Path, str]) -> list[tuple[Path, Definition]]:
        """Every definition of every policy file of the set, with its file."""
        return [
            (path, d)
            for path in policy_files(self.root / POLICIES)
            for d in definitions(text_of(path, open_texts))
        ]


def text_of(path: Path, open_texts: Mapping[Path, str]) -> str:
    """A file's text as the editor holds it, else as on disk ("" when it cannot be read)."""
    if path in open_texts:
        return open_texts[path]
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
