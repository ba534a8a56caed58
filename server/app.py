"""The HTTP app: the JSON API under /v1 (documented in OpenAPI at /docs and /openapi.json),
health checks, and the reviewer's web page at /.

Run it with `zhengce serve`, or `uvicorn --factory server.app:serving_app`; every worker reads
the same settings from the environment (server.config).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hmac
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from kb.corpus import UnknownClause, UnknownDocument
from kb.embed import Embedder
from server import api_models as m
from server import web
from server.config import Settings
from server.decision_log import DecisionLogError
from server.errors import ApiError, BodyLimit, diagnostics, install, invalid_project, item
from server.runtime import Logged, Runtime, add_clause_text
from server.service import InputError, PolicyLoadError, Service

log = logging.getLogger("zhengce")

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


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def acknowledged(runtime: Runtime, logged: Logged) -> str:
    """The decision as JSON text, once its log entry is committed: an acknowledged decision
    survives a crash. A log that cannot be written fails the request; the decision is not
    given without its record."""
    try:
        await runtime.decision_log.write(logged.entry)
    except DecisionLogError as exc:
        raise ApiError(503, "decision_log_unavailable", str(exc)) from exc
    return logged.body


def json_response(text: str) -> Response:
    return Response(text.encode(), media_type="application/json")


api = APIRouter(prefix="/v1", responses=ERRORS)


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
    runtime = runtime_of(request)
    date = body.date
    try:
        if body.explain:  # may search the knowledge base: off the event loop
            logged = await run_in_threadpool(runtime.decide, body.project, date, True, body.engine)
        else:
            logged = runtime.decide(body.project, date, False, body.engine)
    except InputError as exc:
        raise invalid_project(exc.errors) from exc
    return json_response(await acknowledged(runtime, logged))


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
def route(body: m.RouteRequest, request: Request) -> JSONResponse:
    """Which units lead (牵头) and share (责任) a matter described in plain words, among the
    routing rules in force for the region and date. Below the confidence threshold there is
    no forced guess: `match` is null and `candidates` lists the nearest rules."""
    service = runtime_of(request).service
    day = body.date or dt.date.today().isoformat()
    if not service.route_ids(body.region, day):
        return JSONResponse(
            {
                "match": None,
                "message": f"no routing rules are in force for {body.region} on {day}",
                "threshold": 0.0,
                "dense_available": False,
                "candidates": [],
            }
        )
    found = service.route_text(body.matter, body.region, day)
    candidates = list(found.candidates[: body.k])
    common = {
        "threshold": found.threshold,
        "dense_available": found.dense_available,
        "candidates": candidates,
    }
    if found.answer is None:
        message = "no routing rule matches this matter well enough; see the candidates"
        return JSONResponse({"match": None, "message": message, **common})
    answer = found.answer.to_json()
    add_clause_text(service, answer["citations"])
    match = answer | {"score": found.score, "matched_text": found.matched_text}
    return JSONResponse({"match": match, "message": f"matched {answer['rule']}", **common})


@api.get("/search", response_model=m.SearchResponse, summary="Search clauses", tags=["clauses"])
def search(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=500, description="What to look for.")],
    k: Annotated[int, Query(ge=1, le=50, description="How many clauses.")] = 10,
    region: Annotated[
        str | None, Query(max_length=200, description="Only documents of this region.")
    ] = None,
) -> JSONResponse:
    """Clauses of every source document, best first: BM25 over jieba tokens fused with e5
    similarity. `highlights` are [start, end) spans of `text` where query words occur."""
    service = runtime_of(request).service
    kb = service.searcher.knowledge_base()
    hits = kb.search(q, k, region or None)
    titles = {d: service.corpus.document(d).title for d in {h.document for h in hits}}
    return JSONResponse(
        {
            "query": q,
            "hits": [
                {
                    "document": h.document,
                    "clause": h.clause,
                    "title": titles[h.document],
                    "text": h.text,
                    "score": round(h.score, 6),
                    "highlights": [list(s) for s in h.highlights],
                }
                for h in hits
            ],
            "dense_available": kb.dense_available,
            "degraded_reason": kb.degraded_reason,
        }
    )


@api.get(
    "/clauses/{document}/{clause}",
    response_model=m.ClauseResponse,
    responses=NOT_FOUND,
    summary="One source clause",
    tags=["clauses"],
)
async def clause(document: str, clause: str, request: Request) -> JSONResponse:
    """A clause verbatim from its source document, its place in the document and the rules
    that encode it."""
    service = runtime_of(request).service
    try:
        doc = service.corpus.document(document)
        found = doc.require(clause)
    except (UnknownDocument, UnknownClause) as exc:
        location = "document" if isinstance(exc, UnknownDocument) else "clause"
        where = [item(f"unknown_{location}", str(exc), location)]
        raise ApiError(404, "not_found", str(exc), where) from exc
    cov = service.coverage_of(doc.id)
    status = next((c for c in cov.clauses if c.clause == found.id), None) if cov else None
    return JSONResponse(
        {
            "document": doc.id,
            "title": doc.title,
            "doc_number": doc.meta.doc_number,
            "region": doc.meta.region,
            "clause": found.id,
            "label": found.label,
            "text": found.text,
            "full_text": found.full_text,
            "parent": found.parent,
            "children": [c.id for c in doc.children(found.id)],
            "encoded_by": list(status.by) if status else [],
            "status": status.status if status else "open",
        }
    )


def policy_summary(service: Service, policy_id: str) -> dict[str, Any]:
    policy = service.policies.policy(policy_id)
    assert policy is not None
    header = dataclasses.asdict(policy.header)
    header.pop("span", None)
    cov = service.coverage_of(policy.header.source)
    counts = {s: cov.count(s) if cov else 0 for s in ("encoded", "skipped", "by_parts", "open")}
    failing = [c.clause for c in cov.failing] if cov else []
    return header | {
        "rules": len(policy.rules),
        "routes": len(policy.routes),
        "coverage": counts | {"failing": failing},
    }


@api.get("/policies", response_model=m.PolicyList, summary="The policy set", tags=["policies"])
async def policies(request: Request) -> JSONResponse:
    service = runtime_of(request).service
    return JSONResponse(
        {
            "revision": service.policies.revision,
            "policies": [policy_summary(service, p.id) for p in service.policies.policies],
        }
    )


@api.get(
    "/policies/{policy_id}",
    response_model=m.PolicyDetail,
    responses=NOT_FOUND,
    summary="One policy: rules, source and clause coverage",
    tags=["policies"],
)
async def policy(policy_id: str, request: Request) -> JSONResponse:
    service = runtime_of(request).service
    p = service.policies.policy(policy_id)
    if p is None:
        known = ", ".join(x.id for x in service.policies.policies)
        message = f"no policy {policy_id!r}; known: {known}"
        raise ApiError(404, "not_found", message, [item("unknown_policy", message, "policy_id")])
    source = p.header.source

    def refs(cs: Any) -> list[dict[str, str]]:
        return [{"document": source, "clause": c.clause} for c in cs]

    cov = service.coverage_of(source)
    return JSONResponse(
        policy_summary(service, policy_id)
        | {
            "source_title": service.corpus.document(source).title,
            "parameters": {name: pv.value for name, pv in p.params.items()},
            "rules_detail": [
                {
                    "id": r.key,
                    "title": r.ast.title,
                    "outcome": r.ast.outcome,
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
                    "cites": refs(r.ast.cites),
                }
                for r in p.routes
            ],
            "clauses": [
                {
                    "clause": c.clause,
                    "status": c.status,
                    "by": list(c.by),
                    "reason": c.reason,
                    "assigns": c.assigns,
                }
                for c in (cov.clauses if cov else ())
            ],
        }
    )


@api.get(
    "/decisions/{decision_id}",
    response_model=m.LoggedDecision,
    responses=NOT_FOUND | UNAVAILABLE,
    summary="A logged decision",
    tags=["decisions"],
)
def decision(decision_id: str, request: Request) -> JSONResponse:
    """A decision as it was given: the request, the result, the policy revision and when."""
    try:
        found = runtime_of(request).decision(decision_id)
    except Exception as exc:
        raise ApiError(503, "decision_log_unavailable", f"the log cannot be read: {exc}") from exc
    if found is None:
        message = f"no decision {decision_id!r} in the log"
        where = [item("unknown_decision", message, "decision_id")]
        raise ApiError(404, "not_found", message, where)
    return JSONResponse(
        {
            "decision_id": found.decision_id,
            "created_at": found.created_at.isoformat(),
            "revision": found.revision,
            "input": found.input,
            "result": found.result,
        }
    )


@api.post(
    "/admin/reload",
    response_model=m.ReloadResponse,
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
) -> JSONResponse:
    """Re-read the policies and sources and check them. A set with errors is refused with the
    check report in `errors` (file:line:col), and the last good set keeps serving."""
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
        report = runtime.reload()
    except PolicyLoadError as exc:
        errors = diagnostics(exc.result.errors, root)
        message = f"the policy set has {len(errors)} error(s); revision {before} keeps serving"
        raise ApiError(409, "policy_errors", message, errors) from exc
    request.app.openapi_schema = None  # the fact schema may have changed
    warnings = diagnostics(report.diagnostics.diagnostics, root)
    return JSONResponse(
        {
            "revision": report.revision,
            "policies": list(report.policies),
            "changed": report.revision != before,
            "warnings": warnings,
        }
    )


health = APIRouter(tags=["health"])


@health.get("/healthz", response_model=m.Health, summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@health.get(
    "/readyz",
    response_model=m.Ready,
    responses={503: {"model": m.ErrorBody, "description": "Still opening the search indexes."}},
    summary="Ready for traffic",
)
async def readyz(request: Request) -> JSONResponse:
    """Ready once the policies are loaded and compiled and, when warming is on, the search
    indexes and model are open. `degraded`: semantic search is off (BM25 only) or warming
    failed; evaluation and routing still answer."""
    runtime = runtime_of(request)
    service = runtime.service
    search = service.searcher.status() | {"warm": runtime.warm_state}
    if runtime.warm_state == "warming":
        message = "opening the search indexes and the model"
        raise ApiError(503, "not_ready", message, [item("warming", message, "search")])
    degraded = runtime.warm_state == "failed" or search["dense_available"] is False
    return JSONResponse(
        {
            "status": "degraded" if degraded else "ready",
            "revision": service.policies.revision,
            "policies": [p.id for p in service.policies.policies],
            "search": search,
        }
    )


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    embedder: Embedder | None = None,
    cache_dir: Path | None = None,
) -> FastAPI:
    """The app over the project at settings.root (default: from the environment). Raises
    PolicyLoadError when the policy set has errors: there would be nothing to serve."""
    settings = settings or (runtime.settings if runtime else Settings.from_env())
    runtime = runtime or Runtime(settings, embedder=embedder, cache_dir=cache_dir)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        runtime.decision_log.open()  # again, when a lifespan ends and a new one starts
        if settings.warm and runtime.warm_state == "cold":
            runtime.warm_state = "warming"
            threading.Thread(target=runtime.warm, name="warm", daemon=True).start()
        elif not settings.warm:
            runtime.settle_heap()
        yield
        runtime.close()

    app = FastAPI(
        docs_url=None,  # served below from the installed Swagger UI, not from a CDN
        redoc_url=None,
        # No OpenTelemetry here; FastAPI's native hooks otherwise ask the global providers
        # on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        title="zhengce",
        version="1",
        summary="Policy-as-code for industrial-park and development-zone policy (政策).",
        description=(
            "Evaluate projects against the encoded policies, route matters to the units that "
            "lead them, and read the clauses behind every decision. Every 4xx and 5xx answer "
            "has the shape `{code, message, errors: [{code, message, location}]}`."
        ),
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    install(app)
    app.include_router(api)
    app.include_router(health)
    app.include_router(web.router)
    api_docs(app)
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        per_path={"/v1/evaluate/batch": settings.max_batch_body_bytes},
    )
    app.openapi = openapi_with_project(app)  # type: ignore[method-assign]
    return app


def serving_app() -> FastAPI:
    """The app of a process that does nothing but serve it (`zhengce serve`, or
    `uvicorn --factory server.app:serving_app`): as create_app, with the heap frozen once
    loaded (Runtime.settle_heap). Tests and embedders that share their process use
    create_app."""
    settings = Settings.from_env()
    return create_app(runtime=Runtime(settings, freeze_heap=True))


def api_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the swagger-ui-bundle package: FastAPI's default page loads
    it from a CDN, and these machines have no internet."""
    assets = Path(swagger_ui_path)
    app.mount("/docs/assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="zhengce API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )


def openapi_with_project(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """OpenAPI with the project's JSON Schema generated from the fact schema in force."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            runtime = app.state.runtime
            schemas = spec["components"]["schemas"]
            schemas["Project"] = m.project_json_schema(runtime.service.policies.schema)
            project = {"$ref": "#/components/schemas/Project"}
            schemas["EvaluateRequest"]["properties"]["project"] = project | {
                "description": "The project's facts (fact contract v1)."
            }
            schemas["BatchRequest"]["properties"]["projects"]["items"] = project
            app.openapi_schema = spec
        return app.openapi_schema

    return build
