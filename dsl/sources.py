"""The small interface through which the checker sees source documents.

dsl never imports kb: the checker proves quotes and lists clauses through this protocol, and
the server passes in kb's corpus (tests pass a fake).
"""

from __future__ import annotations

from typing import Protocol


class ClauseSource(Protocol):
    def has_document(self, document: str) -> bool:
        """True when a source document with this id exists."""
        ...

    def clause_ids(self, document: str) -> list[str]:
        """Every clause id of the document, in reading order (parents before children)."""
        ...

    def resolve_clause(self, document: str, clause: str) -> str | None:
        """The id of the clause a reference names: the id itself, a typed variant of it
        (四．（一）．1), or a bare item number that only one clause ends with (16 for
        二.(三).16); None when it names none."""
        ...

    def nearest_clauses(self, document: str, clause: str) -> list[str]:
        """Clause ids near a reference that names none, nearest first, for a suggestion."""
        ...

    def clause_text(self, document: str, clause: str) -> str | None:
        """The verbatim text of a clause, including its sub-clauses; None when unknown."""
        ...

    def normalize(self, text: str) -> str:
        """The one normalisation used for matching (t2s, width folding, no whitespace)."""
        ...

    def document_region(self, document: str) -> str | None:
        """The region the document's metadata gives (甘肃省/平凉市); None when unknown."""
        ...

    def document_provenance(self, document: str) -> str | None:
        """What the text is, as its metadata says: official (the official text), news_report,
        unofficial_copy or reprint; None when unknown. Every citation of it carries this."""
        ...
