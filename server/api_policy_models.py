"""Response bodies about the policy set: one clause, clause coverage, the policies. Split from
server.api_models (the decision, routing and search bodies) to keep each module small."""

from __future__ import annotations

from pydantic import Field

from dsl.vocabulary import Coverage as CoverageStatus
from dsl.vocabulary import Outcome, Strength
from server.api_models import ClauseRef, Out, Step


class ClauseResponse(Out):
    document: str
    title: str
    doc_number: str
    region: str
    clause: str
    label: str
    text: str = Field(description="The clause's own text.")
    full_text: str = Field(description="With its sub-clauses.")
    parent: str | None
    children: list[str]
    encoded_by: list[str] = Field(description="Rules, routes and parameters citing it.")
    status: CoverageStatus


class Coverage(Out):
    encoded: int
    skipped: int
    by_parts: int
    open: int
    failing: list[str] = Field(description="Open clauses whose text assigns a path or unit.")


class PolicySummary(Out):
    id: str
    title: str
    source: str
    doc_number: str
    issuer: str
    region: str
    issued: str
    effective_from: str
    effective_until: str
    trial: bool
    rules: int
    routes: int
    coverage: Coverage


class PolicyList(Out):
    revision: str
    policies: list[PolicySummary]


class RuleOut(Out):
    id: str
    title: str
    outcome: Outcome | None
    strength: Strength
    steps: list[Step]
    cites: list[ClauseRef]


class RouteOut(Out):
    id: str
    title: str
    matters: list[str]
    lead: list[str]
    responsible: list[str]
    assisting: list[str]
    cites: list[ClauseRef]


class ClauseCoverage(Out):
    clause: str
    status: CoverageStatus
    by: list[str]
    reason: str
    assigns: bool


class DocumentCoverage(Coverage):
    document: str
    policy: str | None = Field(description="The policy encoding the document, if any.")
    clauses: list[ClauseCoverage]


class CoverageReport(Out):
    documents: list[DocumentCoverage] = Field(description="Every source document.")


class PolicyDetail(PolicySummary):
    source_title: str
    parameters: dict[str, str]
    rules_detail: list[RuleOut]
    routes_detail: list[RouteOut]
    clauses: list[ClauseCoverage]
