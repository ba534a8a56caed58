"""The one place that turns the service's results into their JSON shapes (server.api_models):
the HTTP API, every `--json` of the CLI, the reviewer's page and the decision log all use
these functions, so an answer has one shape wherever it leaves the project."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import msgspec
from pydantic import BaseModel

from dsl.coverage import ClauseStatus, DocumentCoverage
from dsl.decide import Decision, PathStep
from dsl.resolved import PolicyR
from dsl.vocabulary import Coverage
from server import api_draft_models as dm
from server import api_impact_models as im
from server import api_models as m
from server import api_policy_models as pm
from server.decision_log import LoggedDecision
from server.drafting import AddedSource
from server.results import (
    CitedText,
    ClauseResult,
    Evaluation,
    ImpactResult,
    PolicyList,
    PolicyResult,
    RouteResult,
    SearchResult,
)
from server.service import InputError, Service


def dump(model: BaseModel) -> str:
    """A view as JSON text (UTF-8, not ASCII-escaped): the body the API sends and the log
    keeps."""
    return model.model_dump_json()


def plain(model: BaseModel) -> Any:
    """A view as JSON-ready lists and dicts."""
    return model.model_dump(mode="json")


# ------------------------------------------------------------------------------ decisions


def citations(cited: Iterable[CitedText]) -> list[dict[str, Any]]:
    return [_citation(c) for c in cited]


def _citation(c: CitedText) -> dict[str, Any]:
    extra = {
        "text": c.text,
        "quote_at": list(c.quote_at) if c.quote_at else None,
        "backs": list(c.backs),
    }
    return _in_view_order(CITATION_FIELDS, c.citation, extra)


@functools.lru_cache(maxsize=4096)  # the texts are the policy set's, asked for again and again
def stable_id(kind: str, text: str) -> str:
    """An id for an authority or action that only its text decides (whitespace aside), so a
    calling system can match the same office across decisions and policy revisions."""
    digest = hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:12]
    return f"{kind}:{digest}"


# The views' fields, in the order the API models declare them: the order of the JSON.
DECISION_FIELDS = tuple(m.Decision.model_fields)
PATH_STEP_FIELDS = tuple(m.PathStep.model_fields)
CITATION_FIELDS = tuple(m.Citation.model_fields)
_ENCODER = msgspec.json.Encoder()


def decision_json(evaluation: Evaluation, decision_id: str | None) -> str:
    """The decision's view (m.Decision) as JSON text, the body the API sends and the log
    keeps; `decision_id` is None where the decision is not logged (the CLI).

    Written by msgspec from the decision's own dataclasses, which have the view's fields in
    its order, rather than turned into dicts, validated as m.Decision and dumped by pydantic:
    that took 0.23 ms of a plain decision's 0.4 ms of CPU here and 0.45 ms of an explained
    one's 0.5 ms; this takes 0.03 and 0.06 ms. tests/test_views.py holds the text to what
    m.Decision validates and dumps, to the byte, on every example and on hundreds of
    generated decisions of the seed and synthetic policy sets."""
    d: Decision = evaluation.decision
    page = f"/decisions/{quote(decision_id, safe='')}" if decision_id else None
    extra = {
        "decision_id": decision_id,
        "page_url": page,
        "steps": [_path_step(s) for s in d.steps],
        "citations": [_citation(c) for c in evaluation.citations],
        "related": [
            {
                "near": {"document": r.near[0], "clause": r.near[1]},
                "document": r.hit.document,
                "clause": r.hit.clause,
                "text": r.hit.text,
                "score": round(r.hit.score, 6),
            }
            for r in evaluation.related
        ],
    }
    return _ENCODER.encode(_in_view_order(DECISION_FIELDS, d, extra)).decode()


def decision(evaluation: Evaluation, decision_id: str | None) -> m.Decision:
    """The decision's view as a model (the CLI's --json, the documented examples)."""
    return m.Decision.model_validate_json(decision_json(evaluation, decision_id))


def _path_step(step: PathStep) -> dict[str, Any]:
    extra = {
        "authority_id": stable_id("authority", step.authority),
        "action_id": stable_id("action", step.action),
    }
    return _in_view_order(PATH_STEP_FIELDS, step, extra)


def _in_view_order(fields: tuple[str, ...], value: Any, extra: dict[str, Any]) -> dict[str, Any]:
    """The view's fields: those the service added (`extra`), the others `value`'s own."""
    return {name: extra[name] if name in extra else getattr(value, name) for name in fields}


def logged_decision(found: LoggedDecision) -> m.LoggedDecision:
    return m.LoggedDecision.model_validate(
        {
            "decision_id": found.decision_id,
            "created_at": found.created_at,
            "revision": found.revision,
            "input": found.input,
            "result": found.result,
        }
    )


# --------------------------------------------------------------------------------- route


def route(found: RouteResult, k: int = 5) -> m.RouteResponse:
    match = None
    if found.answer is not None:
        match = found.answer.to_json() | {
            "citations": citations(found.citations),
            "score": found.score,
            "matched_text": found.matched_text,
        }
    return m.RouteResponse.model_validate(
        {
            "match": match,
            "message": found.message,
            "threshold": found.threshold,
            "dense_available": found.dense_available,
            "candidates": [
                {
                    "rule": c.match.id,
                    "title": c.title,
                    "score": round(c.match.score, 4),
                    "semantic": None if c.match.semantic is None else round(c.match.semantic, 4),
                    "lexical": round(c.match.lexical, 4),
                    "matched_text": c.match.text,
                }
                for c in found.candidates[:k]
            ],
        }
    )


# ------------------------------------------------------------------------------- clauses


def search(found: SearchResult) -> m.SearchResponse:
    return m.SearchResponse.model_validate(
        {
            "query": found.query,
            "hits": [
                {
                    "document": t.hit.document,
                    "clause": t.hit.clause,
                    "title": t.title,
                    "text": t.hit.text,
                    "score": round(t.hit.score, 6),
                    "relevance": t.hit.relevance,
                    "highlights": [list(s) for s in t.hit.highlights],
                    "sentence": list(t.hit.sentence) if t.hit.sentence else None,
                }
                for t in found.hits
            ],
            "found": found.found,
            "dense_available": found.dense_available,
            "degraded_reason": found.degraded_reason,
        }
    )


def clause(found: ClauseResult) -> pm.ClauseResponse:
    doc, c, status = found.document, found.clause, found.status
    return pm.ClauseResponse.model_validate(
        {
            "document": doc.id,
            "title": doc.title,
            "doc_number": doc.meta.doc_number,
            "region": doc.meta.region,
            "clause": c.id,
            "label": c.label,
            "text": c.text,
            "full_text": c.full_text,
            "parent": c.parent,
            "children": list(found.children),
            "encoded_by": list(status.by) if status else [],
            "status": status.status if status else Coverage.OPEN,
        }
    )


# ------------------------------------------------------------------------------ policies


def _counts(cov: DocumentCoverage | None) -> dict[str, Any]:
    counts: dict[str, Any] = {s: cov.count(s) if cov else 0 for s in Coverage}
    return counts | {"failing": [c.clause for c in cov.failing] if cov else []}


def _summary(found: PolicyResult) -> dict[str, Any]:
    header = dataclasses.asdict(found.policy.header)
    header.pop("span", None)
    return header | {
        "rules": len(found.policy.rules),
        "routes": len(found.policy.routes),
        "coverage": _counts(found.coverage),
    }


def policy_list(found: PolicyList) -> pm.PolicyList:
    return pm.PolicyList.model_validate(
        {"revision": found.revision, "policies": [_summary(p) for p in found.policies]}
    )


def _clause_statuses(clauses: Iterable[ClauseStatus]) -> list[dict[str, Any]]:
    return [
        {"clause": c.clause, "status": c.status, "by": list(c.by), "reason": c.reason}
        | {"assigns": c.assigns}
        for c in clauses
    ]


def policy(found: PolicyResult) -> pm.PolicyDetail:
    p: PolicyR = found.policy
    source = p.header.source

    def refs(cites: Iterable[Any]) -> list[dict[str, str]]:
        return [{"document": source, "clause": c.clause} for c in cites]

    return pm.PolicyDetail.model_validate(
        _summary(found)
        | {
            "source_title": found.source_title,
            "parameters": {name: pv.value for name, pv in p.params.items()},
            "rules_detail": [
                {
                    "id": r.key,
                    "title": r.ast.title,
                    "outcome": r.ast.outcome,
                    "strength": r.ast.strength,
                    "steps": [{"authority": s.authority, "action": s.action} for s in r.ast.steps],
                    "cites": refs(r.ast.cites),
                }
                for r in p.rules
            ],
            "routes_detail": [
                {
                    "id": r.key,
                    "title": r.ast.title,
                    "matters": list(r.ast.matters),
                    "lead": list(r.lead),
                    "responsible": list(r.responsible),
                    "assisting": list(r.assisting),
                    "cites": refs(r.ast.cites),
                }
                for r in p.routes
            ],
            "clauses": _clause_statuses(found.coverage.clauses if found.coverage else ()),
        }
    )


def coverage(documents: Iterable[DocumentCoverage]) -> pm.CoverageReport:
    return pm.CoverageReport.model_validate(
        {
            "documents": [
                {"document": d.document, "policy": d.policy or None}
                | _counts(d)
                | {"clauses": _clause_statuses(d.clauses)}
                for d in documents
            ]
        }
    )


# -------------------------------------------------------------------------------- impact


def impact(found: ImpactResult) -> im.ImpactReport:
    """The impact report, for `zhengce impact --json` and the reload's dry run alike."""
    i = found.impact

    def edit(e: Any) -> dict[str, Any]:
        return {**vars(e), "aspects": list(e.aspects)}

    return im.ImpactReport.model_validate(
        {
            "base": {"label": found.base, "revision": i.base_revision},
            "revision": i.revision,
            "projects": i.projects,
            "origins": dict(i.origins),
            "decided": i.decided,
            "invalid": i.invalid,
            "changed": i.changed,
            "edits": [edit(e) for e in i.edits],
            "groups": [
                {
                    "edit": edit(g.edit),
                    "count": g.count,
                    "fields": dict(g.fields),
                    "origins": dict(g.origins),
                    "examples": [
                        {
                            "origin": c.project.origin,
                            "label": c.project.label,
                            "project": dict(c.project.facts),
                            "date": c.project.date,
                            "changes": [vars(x) for x in c.changes],
                            "rules": list(c.rules),
                        }
                        for c in g.examples
                    ],
                }
                for g in i.groups
            ],
            "replay": found.replay,
        }
    )


# ------------------------------------------------------------------------------ drafting


def added_source(found: AddedSource) -> dm.AddedSource:
    """A source just added, as segmented, for `zhengce add --json`."""
    doc = found.document
    return dm.AddedSource(
        document=doc.id,
        title=doc.title,
        region=doc.meta.region,
        text_path=str(found.text_path),
        meta_path=str(found.meta_path),
        clauses=[
            dm.ClauseLine(id=c.id, kind=c.kind, label=c.label, heading=c.heading, parent=c.parent)
            for c in doc.clauses
        ],
        gaps=[
            dm.NumberingGap(before=g.before, after=g.after, missing=list(g.missing))
            for g in found.gaps
        ],
    )


# ------------------------------------------------------------------------------ examples


def decision_examples(service: Service) -> list[dict[str, Any]]:
    """The decisions for the policy set's example projects, as the API answers them: the
    documented examples are real answers, whatever the rules say today."""
    found = []
    for e in service.examples:
        try:
            evaluation = service.evaluate(e.project, e.date, explain=False)
        except InputError:
            continue  # an example the schema no longer takes documents nothing
        found.append(plain(decision(evaluation, f"example-{e.name}")))
    return found


def route_examples(service: Service, limit: int = 2) -> list[dict[str, Any]]:
    """Routing answers for a few rules of the set, those with assisting units first."""
    policies = service.policies
    routes = sorted(policies.routes, key=lambda r: not r.assisting)[:limit]
    found = []
    for r in routes:
        policy = policies.policy(r.policy)
        if policy is None:
            continue
        h = policy.header
        answer = service.route(r.key, h.region, h.effective_from or h.issued)
        if answer.answer is not None:
            found.append(plain(route(answer))["match"])
    return found
