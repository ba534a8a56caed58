"""What a cited source is, for the notice the page puts on every citation that is not the
issuing body's own text: a news report's wording is the reporter's, an unofficial copy or a
reprint may differ from the official text. The notice names the issuer, the issue date and
试行 status where the policy header or the document's metadata give them."""

from __future__ import annotations

from dataclasses import dataclass

from dsl.resolved import PolicySet
from kb.corpus import Corpus
from server.labels import PROVENANCES

__all__ = ["Notice", "notice"]


@dataclass(frozen=True)
class Notice:
    provenance: str  # kb.ingest.PROVENANCES, or "" when the metadata does not say
    kind: str  # 新闻报道, 非官方文本, 转载文本, 来源性质未注明
    issuer: str  # "" when not known
    issued: str
    published: str  # the page's own date, when it gives one other than the issue date
    trial: bool
    note: str  # the metadata's provenance_note, in Chinese


def notice(policies: PolicySet, corpus: Corpus, document: str) -> Notice | None:
    """The notice for a document, or None for the official text and an unknown id."""
    if not corpus.has_document(document):
        return None
    meta = corpus.document(document).meta
    if meta.provenance == "official":
        return None
    header = next((p.header for p in policies.policies if p.header.source == document), None)
    issued = (header.issued if header else "") or meta.issued
    return Notice(
        provenance=meta.provenance,
        kind=PROVENANCES.get(meta.provenance, "来源性质未注明"),
        issuer=(header.issuer if header else "") or meta.issuer,
        issued=issued,
        published=meta.published if meta.published != issued else "",
        trial=bool(header and header.trial),
        note=meta.provenance_note,
    )
