"""What each use case of the service answers, as frozen values. They hold the language's and
the knowledge base's own results (a Decision, a RouteAnswer, search hits, clause coverage) and
what the service adds to them (clause text, related clauses, titles); server.views turns each
into its JSON shape, the terminal presenters into text."""

from __future__ import annotations

from dataclasses import dataclass

from dsl.coverage import ClauseStatus, DocumentCoverage
from dsl.decide import Citation, Decision
from dsl.impact import Impact
from dsl.resolved import PolicyR
from dsl.routing import RouteAnswer
from kb.corpus import Document
from kb.items import ItemMatch
from kb.search import Hit, found
from kb.segment import Clause


@dataclass(frozen=True)
class CitedText:
    """A citation with its clause's full text and the [start, end) of the quote in it (None
    when the quote cannot be placed)."""

    citation: Citation
    text: str
    quote_at: tuple[int, int] | None
    backs: tuple[str, ...] = ()  # the rules and parameters of the decision that cite it


@dataclass(frozen=True)
class Related:
    """A clause of another document close to the cited clause `near` (document, clause)."""

    near: tuple[str, str]
    hit: Hit


@dataclass(frozen=True)
class Evaluation:
    decision: Decision
    citations: tuple[CitedText, ...]  # decision.citations, in order, with their clause text
    related: tuple[Related, ...]  # only when asked for (explain)


@dataclass(frozen=True)
class Candidate:
    """A routing rule near a free-text matter, with its title."""

    match: ItemMatch
    title: str


@dataclass(frozen=True)
class RouteResult:
    """A matter routed, by rule id or in plain words. `answer` is None when no rule is found
    or none matches well enough; `message` says which. `score` and `matched_text` are None
    when the matter named the rule by its id."""

    answer: RouteAnswer | None
    citations: tuple[CitedText, ...]
    score: float | None
    matched_text: str | None
    candidates: tuple[Candidate, ...]
    threshold: float | None  # None: no free text was matched
    dense_available: bool | None
    message: str


@dataclass(frozen=True)
class TitledHit:
    hit: Hit
    title: str  # the document's title


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: tuple[TitledHit, ...]
    dense_available: bool
    degraded_reason: str | None

    @property
    def found(self) -> bool:
        """Some hit reaches the lowest relevance; false: nothing answers the question."""
        return found([t.hit for t in self.hits])


@dataclass(frozen=True)
class ClauseResult:
    document: Document
    clause: Clause
    children: tuple[str, ...]
    status: ClauseStatus | None  # None: no policy encodes the document (the clause is open)


@dataclass(frozen=True)
class PolicyResult:
    policy: PolicyR
    coverage: DocumentCoverage | None
    source_title: str


@dataclass(frozen=True)
class PolicyList:
    revision: str
    policies: tuple[PolicyResult, ...]


@dataclass(frozen=True)
class ImpactResult:
    """An edit's impact (dsl.impact) and against what: `base` names it (a git revision and
    its commit, or the served set), `replay` where the projects were decided (in-process, or
    a Dask scheduler's address)."""

    base: str
    impact: Impact
    replay: str
