"""The HTTP app: the JSON API under /v1 (server.api), health checks, the API docs, and the
reviewer's web page at /.

Run it with `zhengce serve`, or `uvicorn --factory server.app:serving_app`; every worker reads
the same settings from the environment (server.config).

Around the endpoints, outermost first: security headers and the refusal of cross-site and
non-JSON requests (server.security), the body size limit (errors.BodyLimit), the batch
limits (server.limits), in a server's worker following the fleet's policy revision
(FollowRevision), and the fast path of a well-formed `POST /v1/evaluate` (server.direct).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from kb.embed import Embedder
from server import api_models as m
from server import views, web
from server.api import api, runtime_of
from server.config import Settings
from server.direct import DirectEvaluate
from server.direct_route import DirectRoute
from server.errors import ApiError, BodyLimit, error_response, install, item
from server.limits import BatchLimits
from server.project_schema import project_json_schema
from server.revision import RevisionStore
from server.runtime import NotServing, Runtime, WorkersBehind
from server.security import HEADERS, Guard

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
    indexes and model are open. `degraded`: semantic search is off (BM25 only), warming
    failed, or this server serves the last good revision because policies/ has errors
    (`problem` says so); evaluation and routing still answer. `worker` is the process that
    answered, `workers` the revision each worker of the server serves, `startup` how long
    each phase of the answering worker's start took (server.start_log)."""
    runtime = runtime_of(request)
    service = runtime.serving
    if service is None:
        message = runtime.problem or "no policy set is loaded"
        raise ApiError(503, "not_ready", message, [item("no_policy_set", message, "policies")])
    search = _search_status(runtime, service.searcher.status())
    if runtime.warm_state == "warming":
        message = "opening the search indexes and the model"
        raise ApiError(503, "not_ready", message, [item("warming", message, "search")])
    degraded = (
        runtime.warm_state == "failed"
        or search["dense_available"] is False
        or runtime.problem is not None
    )
    return JSONResponse(
        {
            "status": "degraded" if degraded else "ready",
            "revision": service.policies.revision,
            "policies": [p.id for p in service.policies.policies],
            "search": search,
            "problem": runtime.problem,
            "worker": runtime.state().pid,
            "workers": [asdict(w) for w in runtime.fleet()],
            "startup": runtime.startup.view(),
        }
    )


def _search_status(runtime: Runtime, status: dict[str, Any]) -> dict[str, Any]:
    """The searcher's status without the server's paths: a reason that names a file says
    where relative to the project or the cache."""
    reason = status.get("degraded_reason")
    if isinstance(reason, str):
        settings = runtime.settings
        reason = reason.replace(str(settings.cache_dir), "<cache>")
        status["degraded_reason"] = reason.replace(str(settings.root), "<root>")
    return status | {"warm": runtime.warm_state}


class FollowRevision:
    """Before each request, is the fleet's revision still this worker's (one stat)? If not,
    the worker switches first, off the event loop (Runtime.catch_up)."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.runtime.behind():
            await run_in_threadpool(self.runtime.follow)
        await self.app(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    embedder: Embedder | None = None,
) -> FastAPI:
    """The app over the project at settings.root (default: from the environment). Raises
    PolicyLoadError when the policy set has errors: there would be nothing to serve."""
    settings = settings or (runtime.settings if runtime else Settings.from_env())
    runtime = runtime or Runtime(settings, embedder=embedder)

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
            "has the shape `{code, message, message_en, errors: [{code, message, message_en, "
            "location}]}`: `message` in Chinese, `message_en` in English, `code` stable."
        ),
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    install(app, HEADERS)
    app.add_exception_handler(NotServing, not_serving)
    app.add_exception_handler(WorkersBehind, workers_behind)
    app.include_router(api)
    app.include_router(health)
    app.include_router(web.router)
    api_docs(app)
    # Added innermost first.
    app.add_middleware(DirectEvaluate, runtime=runtime)
    app.add_middleware(DirectRoute, runtime=runtime)
    if runtime.revisions is not None:
        app.add_middleware(FollowRevision, runtime=runtime)
    app.add_middleware(
        BatchLimits,
        path=BATCH,
        max_running=settings.max_batches,
        explain_max=settings.batch_explain_max,
    )
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        per_path={BATCH: settings.max_batch_body_bytes},
    )
    app.add_middleware(Guard)
    app.openapi = openapi_with_project(app)  # type: ignore[method-assign]
    return app


BATCH = "/v1/evaluate/batch"


async def not_serving(_: Request, exc: Exception) -> JSONResponse:
    message = str(exc)
    return error_response(
        ApiError(503, "not_ready", message, [item("no_policy_set", message, "policies")])
    )


async def workers_behind(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WorkersBehind)
    message = (
        f"revision {exc.revision} is accepted, but {len(exc.behind)} worker(s) do not serve "
        "it yet; each switches before it answers again, or answers 503 (see /readyz)"
    )
    behind = [
        item("worker_behind", f"serves {w.revision or 'nothing'}", f"worker {w.pid}")
        for w in exc.behind
    ]
    return error_response(ApiError(503, "reload_incomplete", message, behind))


def serving_app() -> FastAPI:
    """The app of a process that does nothing but serve it (`zhengce serve`, or
    `uvicorn --factory server.app:serving_app`): as create_app, with the heap frozen once
    loaded (Runtime.settle_heap). Tests and embedders that share their process use
    create_app."""
    settings = Settings.from_env()
    revisions = RevisionStore.of_process(settings.root)
    return create_app(runtime=Runtime(settings, freeze_heap=True, revisions=revisions))


DOCS_PAGE = """<!doctype html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>zhengce API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/static/swagger-init.js"></script>
</body>
</html>
"""


def api_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the swagger-ui-bundle package: FastAPI's default page loads
    it from a CDN, and these machines have no internet; and it starts Swagger UI with an
    inline script, which the Content-Security-Policy refuses."""
    assets = Path(swagger_ui_path)
    app.mount("/docs/assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE)


def openapi_with_project(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """OpenAPI with the project's JSON Schema generated from the fact schema in force, and
    examples that are the real answers for the policy set's examples (policies/examples)."""

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
            schemas["Project"] = project_json_schema(runtime.service.policies.schema)
            project = {"$ref": "#/components/schemas/Project"}
            schemas["EvaluateRequest"]["properties"]["project"] = project | {
                "description": "The project's facts (fact contract v1)."
            }
            schemas["BatchRequest"]["properties"]["projects"]["items"] = project
            service = runtime.service
            schemas["Decision"]["examples"] = views.decision_examples(service)
            schemas["RouteMatch"]["examples"] = views.route_examples(service)
            document_refusals(spec)
            app.openapi_schema = spec
        return app.openapi_schema

    return build


# What the layers around the endpoints may answer (server.security, server.limits, the
# runtime), documented on each operation that does not say already.
REFUSALS = {
    "403": "A request from another site (Origin) is refused.",
    "415": "The body is not sent as application/json.",
}
UNAVAILABLE = "This worker has no policy set to serve now (see /readyz), or is busy."


def document_refusals(spec: dict[str, Any]) -> None:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for path, operations in spec["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for operation in operations.values():
            responses = operation["responses"]
            if "requestBody" in operation:
                for status, text in REFUSALS.items():
                    responses.setdefault(status, {"description": text, "content": error})
            responses.setdefault("503", {"description": UNAVAILABLE, "content": error})
