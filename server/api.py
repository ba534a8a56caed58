"""The JSON API under /v1: each endpoint asks the service (through the process's Runtime)
and answers the result's view (server.views), so its body is the one `zhengce … --json`
prints. Documented in OpenAPI at /openapi.json and /docs."""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel

from kb.corpus import UnknownClause, UnknownDocument
from server import api_impact_models as im
from server import api_models as m
from server import api_policy_models as pm
from server import views
from server.decision_log import DecisionLogError
from server.errors import ApiError, diagnostics, invalid_project, item
from server.runtime import Logged, Runtime
from server.service import InputError, PolicyLoadError, Service, UnknownPolicy

Responses = dict[int | str, dict[str, Any]]
ERRORS: Responses = {
    status: {"model": m.ErrorBody, "description": text}
    for status, text in (
        (400, "The body is not JSON."),
        (413, "The body is over the endpoint's limit."),
        (422, "A field is missing, unknown, of the wrong type or out of range; `errors` names it."),
        (500, "The server failed; the error is logged."),
    )
}
NOT_FOUND: Responses = {
    404: {"model": m.ErrorBody, "description": "No such item; the message says why."}
}
UNAVAILABLE: Responses = {
    503: {"model": m.ErrorBody, "description": "The decision log cannot be written."}
}

api = APIRouter(prefix="/v1", responses=ERRORS)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def json_response(text: str) -> Response:
    return Response(text.encode(), media_type="application/json")


def view_response(model: BaseModel) -> Response:
    return json_response(views.dump(model))


async def acknowledged(runtime: Runtime, logged: Logged) -> str:
    """The decision as JSON text, once its log entry is committed: an acknowledged decision
    survives a crash. A log that cannot be written fails the request; the decision is not
    given without its record."""
    try:
        await runtime.decision_log.write(logged.entry)
    except DecisionLogError as exc:
        raise ApiError(503, "decision_log_unavailable", str(exc)) from exc
    return logged.body


@api.post(
    "/evaluate",
    response_model=m.Decision,
    responses=UNAVAILABLE,
    summary="Evaluate one project",
    tags=["decisions"],
)
async def evaluate(body: m.EvaluateRequest, request: Request) -> Response:
    """The decision for one project: outcome, ordered approval path, the rules that fired,
    citations with the full clause text and, with `explain`, why every other rule did not
    fire and related clauses of other documents. Every decision is logged; its
    `decision_id` finds it again at `/v1/decisions/{decision_id}`."""
    return json_response(await evaluated(runtime_of(request), body))


async def evaluated(runtime: Runtime, body: m.EvaluateRequest) -> str:
    """The decision's JSON text, once logged: the answer of `evaluate` and of its fast path
    (server.direct). Raises ApiError, and NotServing."""
    try:
        if body.explain:  # may search the knowledge base: off the event loop
            logged = await run_in_threadpool(
                runtime.decide, body.project, body.date, True, body.engine
            )
        else:
            logged = runtime.decide(body.project, body.date, False, body.engine)
    except InputError as exc:
        raise invalid_project(exc.errors) from exc
    return await acknowledged(runtime, logged)


@api.post(
    "/evaluate/batch",
    response_model=m.BatchResponse,
    responses=UNAVAILABLE,
    summary="Evaluate up to 10,000 projects",
    tags=["decisions"],
)
async def evaluate_batch(body: m.BatchRequest, request: Request) -> Response:
    """Results in the order of `projects`. A project with bad facts gets an `error` entry
    (same shape as a 4xx body) and the others are still decided and logged."""
    runtime = runtime_of(request)
    date = body.date

    def run() -> list[Logged | ApiError]:
        out: list[Logged | ApiError] = []
        for i, project in enumerate(body.projects):
            try:
                out.append(runtime.decide(project, date, body.explain, body.engine))
            except InputError as exc:
                out.append(invalid_project(exc.errors, f"projects.{i}"))
        return out

    done = await run_in_threadpool(run)
    # Written together, so that they share commits.
    bodies = iter(
        await asyncio.gather(*(acknowledged(runtime, e) for e in done if isinstance(e, Logged)))
    )
    # The decisions are already JSON text (as logged): the body is assembled around them.
    results: list[str] = []
    for i, entry in enumerate(done):
        if isinstance(entry, ApiError):
            error = json.dumps(entry.body(), ensure_ascii=False)
            results.append(f'{{"index": {i}, "error": {error}}}')
        else:
            results.append(f'{{"index": {i}, "decision": {next(bodies)}}}')
    failed = sum(1 for e in done if isinstance(e, ApiError))
    return json_response(
        f'{{"count": {len(results)}, "failed": {failed}, "results": [{", ".join(results)}]}}'
    )


@api.post("/route", response_model=m.RouteResponse, summary="Who leads a matter", tags=["routing"])
def route(body: m.RouteRequest, request: Request) -> Response:
    """Which units lead (牵头), are responsible for (责任) and assist (配合) a matter, named
    by a routing rule id or described in plain words, among the routing rules in force for
    the region and date.
    Below the confidence threshold there is no forced guess: `match` is null and
    `candidates` lists the nearest rules."""
    return routed(runtime_of(request).service, body)


def routed(service: Service, body: m.RouteRequest) -> Response:
    """The answer to a route request: this endpoint's, and server.direct_route's."""
    return view_response(views.route(service.route(body.matter, body.region, body.date, body.k)))


@api.get("/search", response_model=m.SearchResponse, summary="Search clauses", tags=["clauses"])
async def search(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=500, description="What to look for.")],
    k: Annotated[int, Query(ge=1, le=50, description="How many clauses.")] = 10,
    region: Annotated[
        str | None, Query(max_length=200, description="Only documents of this region.")
    ] = None,
) -> Response:
    """Clauses of every source document, best first: BM25 over jieba tokens fused with e5
    similarity. `highlights` are [start, end) spans of `text` where query words occur."""
    runtime = runtime_of(request)
    service = runtime.service
    if service.searcher.remembered_search(q, k, region or None):
        return view_response(views.search(service.search(q, k, region)))
    # Embedding the question takes milliseconds: on the worker's one embedding thread, as a
    # route miss (server.direct_route), not the thread pool where searches evicted each other.
    found = await runtime.embedded(service.search, q, k, region)
    return view_response(views.search(found))


@api.get(
    "/clauses/{document}/{clause}",
    response_model=pm.ClauseResponse,
    responses=NOT_FOUND,
    summary="One source clause",
    tags=["clauses"],
)
async def clause(document: str, clause: str, request: Request) -> Response:
    """A clause verbatim from its source document, its place in the document and the rules
    that encode it."""
    service = runtime_of(request).service
    try:
        found = service.clause(document, clause)
    except (UnknownDocument, UnknownClause) as exc:
        location = "document" if isinstance(exc, UnknownDocument) else "clause"
        where = [item(f"unknown_{location}", str(exc), location)]
        raise ApiError(404, "not_found", str(exc), where) from exc
    return view_response(views.clause(found))


@api.get("/policies", response_model=pm.PolicyList, summary="The policy set", tags=["policies"])
async def policies(request: Request) -> Response:
    return view_response(views.policy_list(runtime_of(request).service.policy_list()))


@api.get(
    "/policies/{policy_id}",
    response_model=pm.PolicyDetail,
    responses=NOT_FOUND,
    summary="One policy: rules, source and clause coverage",
    tags=["policies"],
)
async def policy(policy_id: str, request: Request) -> Response:
    try:
        found = runtime_of(request).service.policy(policy_id)
    except UnknownPolicy as exc:
        where = [item("unknown_policy", str(exc), "policy_id")]
        raise ApiError(404, "not_found", str(exc), where) from exc
    return view_response(views.policy(found))


@api.get(
    "/coverage",
    response_model=pm.CoverageReport,
    summary="Clause coverage of every source document",
    tags=["policies"],
)
async def coverage(request: Request) -> Response:
    """Per source document: which clauses are encoded, deliberately skipped (with the
    reason), or still open; `failing` lists open clauses whose text assigns a path or unit."""
    return view_response(views.coverage(runtime_of(request).service.coverage))


@api.get(
    "/decisions/{decision_id}",
    response_model=m.LoggedDecision,
    responses=NOT_FOUND | UNAVAILABLE,
    summary="A logged decision",
    tags=["decisions"],
)
def decision(decision_id: str, request: Request) -> Response:
    """A decision as it was given: the request, the result, the policy revision and when."""
    try:
        found = runtime_of(request).decision(decision_id)
    except DecisionLogError as exc:
        raise ApiError(503, "decision_log_unavailable", str(exc)) from exc
    if found is None:
        message = f"no decision {decision_id!r} in the log"
        where = [item("unknown_decision", message, "decision_id")]
        raise ApiError(404, "not_found", message, where)
    return view_response(views.logged_decision(found))


@api.post(
    "/admin/reload",
    response_model=m.ReloadResponse | im.ImpactReport,
    responses={
        401: {"model": m.ErrorBody, "description": "No or wrong X-API-Key."},
        403: {"model": m.ErrorBody, "description": "Admin is off: ZHENGCE_ADMIN_KEY is unset."},
        409: {"model": m.ErrorBody, "description": "The policy set has errors; not loaded."},
    },
    summary="Re-read policies/",
    tags=["admin"],
)
def reload(
    request: Request,
    x_api_key: Annotated[str | None, Header(description="ZHENGCE_ADMIN_KEY")] = None,
    dry_run: Annotated[
        bool,
        Query(
            description="Change nothing: answer the impact report (`zhengce impact --json`) of "
            "policies/ against the set in force."
        ),
    ] = False,
) -> Response:
    """Re-read the policies and sources and check them. A set with errors is refused with the
    check report in `errors` (file:line:col), and the last good set keeps serving. With
    `dry_run`, nothing is reloaded: the answer is the impact report, every decision that
    would change (the decision log's recent requests, the policy tests, the golden cases and
    projects at every threshold), grouped by the rule edit behind it."""
    runtime = runtime_of(request)
    expected = runtime.settings.admin_key
    if expected is None:
        raise ApiError(403, "admin_disabled", "set ZHENGCE_ADMIN_KEY to enable admin endpoints")
    if x_api_key is None or not hmac.compare_digest(x_api_key.encode(), expected.encode()):
        where = [item("bad_api_key", "missing or wrong", "X-API-Key")]
        raise ApiError(401, "unauthorized", "a valid X-API-Key header is required", where)
    before = runtime.service.policies.revision
    root = str(runtime.settings.root)
    try:
        if dry_run:
            return view_response(views.impact(runtime.dry_run()))
        report = runtime.reload()
    except PolicyLoadError as exc:
        errors = diagnostics(exc.result.errors, root)
        message = f"the policy set has {len(errors)} error(s); revision {before} keeps serving"
        raise ApiError(409, "policy_errors", message, errors) from exc
    request.app.openapi_schema = None  # the fact schema may have changed
    return view_response(
        m.ReloadResponse.model_validate(
            {
                "revision": report.revision,
                "policies": list(report.policies),
                "changed": report.revision != before,
                "warnings": diagnostics(report.diagnostics.diagnostics, root),
            }
        )
    )
