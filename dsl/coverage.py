"""Which clauses of each source document are encoded, deliberately skipped, or still open.

A clause counts as assigning something (a path, a unit, a prohibition) when its text uses the
words that do so; such a clause left open without a recorded reason fails `zhengce coverage`.
"""

from __future__ import annotations

from dataclasses import dataclass

from dsl.resolved import PolicyR, PolicySet
from dsl.sources import ClauseSource
from dsl.vocabulary import Coverage

# Words that give an authority, a path or a prohibition; simplified (texts are normalised).
ASSIGNING_WORDS = (
    "备案",
    "审批",
    "审定",
    "审核",
    "牵头",
    "责任单位",
    "取缔",
    "禁止",
    "不得",
    "不予",
    "准入",
    "报送",
    "报市",
    "提请",
)


@dataclass(frozen=True)
class ClauseStatus:
    clause: str
    status: Coverage
    by: tuple[str, ...]  # rule, route or parameter names citing it
    reason: str  # the skip reason
    assigns: bool  # its text assigns a path, unit or prohibition

    @property
    def failing(self) -> bool:
        return self.status == Coverage.OPEN and self.assigns


@dataclass(frozen=True)
class DocumentCoverage:
    document: str
    policy: str  # "" when no policy encodes this document yet
    clauses: tuple[ClauseStatus, ...]

    def count(self, status: Coverage) -> int:
        return sum(1 for c in self.clauses if c.status == status)

    @property
    def failing(self) -> tuple[ClauseStatus, ...]:
        return tuple(c for c in self.clauses if c.failing) if self.policy else ()


def _citers(policy: PolicyR) -> dict[str, list[str]]:
    by: dict[str, list[str]] = {}
    for name, c in policy.cites():
        by.setdefault(c.clause, [])
        if name not in by[c.clause]:
            by[c.clause].append(name)
    return by


def document_coverage(
    document: str, policy: PolicyR | None, source: ClauseSource
) -> DocumentCoverage:
    ids = source.clause_ids(document)
    by = _citers(policy) if policy else {}
    skips = {s.clause: s.reason for s in policy.skips} if policy else {}
    status: dict[str, Coverage] = {}
    # Children come after parents in reading order: decide from the leaves upwards.
    for cid in reversed(ids):
        children = [c for c in ids if c.startswith(cid + ".") and "." not in c[len(cid) + 1 :]]
        if cid in by:
            status[cid] = Coverage.ENCODED
        elif cid in skips:
            status[cid] = Coverage.SKIPPED
        elif children and all(status[c] != Coverage.OPEN for c in children):
            status[cid] = Coverage.BY_PARTS
        else:
            status[cid] = Coverage.OPEN
    out = []
    for cid in ids:
        text = source.normalize(source.clause_text(document, cid) or "")
        assigns = any(w in text for w in ASSIGNING_WORDS)
        out.append(
            ClauseStatus(cid, status[cid], tuple(by.get(cid, ())), skips.get(cid, ""), assigns)
        )
    return DocumentCoverage(document, policy.id if policy else "", tuple(out))


def coverage(
    policies: PolicySet, source: ClauseSource, documents: list[str]
) -> list[DocumentCoverage]:
    by_document = {p.header.source: p for p in policies.policies}
    return [document_coverage(d, by_document.get(d), source) for d in documents]
