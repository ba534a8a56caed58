"""The HTTP app: the JSON API under /v1 (server.api), health checks, the API docs, and the
reviewer's web page at /.

Run it with `zhengce serve`, or `uvicorn --factory server.app:serving_app`; every worker reads
the same settings from the environment (server.config).
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from kb.embed import Embedder
from server import api_models as m
from server import web
from server.api import api, runtime_of
from server.config import Settings
from server.errors import ApiError, BodyLimit, install, item
from server.runtime import Runtime

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
