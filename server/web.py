"""The reviewer's web page: a project form built from the fact schema, the decision view
from the decision log, the policies with their clause coverage, and clause search.

Server-rendered with Jinja2 (autoescaped), no JavaScript needed. Decisions go through
`Runtime.decide`, the same path as the JSON API, and the page shows them from the log, so a
page is always the decision as it was recorded. Form control names are the schema's field
names; the page's own controls start with an underscore (`_date`, `_explain`).
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool

from dsl import ast
from dsl.schema import FactError, Schema
from dsl.vocabulary import Code
from kb.locate import locate
from server import api_models as m
from server.decision_log import DecisionLogError
from server.incident import report
from server.labels import OUTCOMES, STATUSES, badge, error_text, idents
from server.page_decision import DATE, EXPLAIN, decision_view, form_values
from server.page_search import hits as search_hits
from server.provenance import notice
from server.regions import regions as known_regions
from server.regions import suggest
from server.route_question import RouteCard, route_cards
from server.runtime import Logged, Runtime
from server.service import InputError, Service, bad_date

__all__ = ["router"]

log = logging.getLogger("zhengce")

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

EXAMPLE = "_example"
SEARCH_HITS = 10
# As the API's /v1/search allows; a longer query is cut here rather than refused, as a person
# typing in the box expects.
MAX_QUERY, MAX_REGION = 500, 200
YES_NO = (("true", "是"), ("false", "否"))

router = APIRouter(include_in_schema=False)


# ----------------------------------------------------------------------------- rendering


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(OUTCOMES=OUTCOMES, STATUSES=STATUSES, badge=badge)
    env.filters.update(marked=marked, q=lambda s: quote(str(s), safe=""), clauses=step_clauses)
    env.filters.update(idents=idents)
    return env


def step_clauses(basis: Iterable[m.Basis]) -> list[tuple[str, str, list[str]]]:
    """A path step's clauses, each once, with the rules citing it (for the step's links)."""
    found: dict[tuple[str, str], list[str]] = {}
    for b in basis:
        found.setdefault((b.document, b.clause), []).append(b.rule)
    return [(document, clause, rules) for (document, clause), rules in found.items()]


def _page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_environment().get_template(template).render(**context), status)


def _message(status: int, message: str, detail: str = "", lookup: bool = False) -> HTMLResponse:
    return _page("message.html", status, message=message, detail=detail, lookup=lookup, code=status)


def _not_found(message: str, detail: str = "", lookup: bool = False) -> HTMLResponse:
    return _message(404, message, detail, lookup)


def _runtime(request: Request) -> Runtime:
    return cast(Runtime, request.app.state.runtime)


def marked(text: str, spans: Iterable[Sequence[int]] = ()) -> Markup:
    """`text` escaped, with each (start, end) span (merged where they overlap) in <mark>."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[str] = []
    cursor = 0
    for start, end in merged:
        out += [escape(text[cursor:start]), Markup("<mark>"), escape(text[start:end])]
        out.append(Markup("</mark>"))
        cursor = end
    out.append(escape(text[cursor:]))
    return Markup("").join(out)


# ------------------------------------------------------------------------------ the form


@dataclass(frozen=True)
class Control:
    """One form control for one schema field."""

    name: str
    label: str
    kind: str  # select | number | date | text
    unit: str
    required: bool
    options: tuple[tuple[str, str], ...]  # (value, label) of a select
    value: str
    errors: tuple[str, ...]


def _literal_text(f: ast.FieldDef) -> str:
    """The field's default as the form writes it ("" when none)."""
    if f.default is None:
        return ""
    if f.type.kind == "bool":
        return "true" if f.default.value == "true" else "false"
    return f.default.value


def controls(
    schema: Schema, values: Mapping[str, str], errors: Mapping[str, list[str]]
) -> list[Control]:
    out = []
    for f in schema.fields:
        kind = {"number": "number", "date": "date"}.get(f.type.kind, "text")
        options: tuple[tuple[str, str], ...] = ()
        if f.type.kind in ("enum", "bool"):
            kind = "select"
            choices = [(v.name, v.label) for v in f.type.values] or list(YES_NO)
            empty = "请选择" if f.required else "未填"
            if f.default is not None:
                default = _literal_text(f)
                empty = f"未填（默认 {dict(choices).get(default, default)}）"
            options = (("", empty), *choices)
        value, problems = values.get(f.name, ""), tuple(errors.get(f.name, ()))
        unit, required = f.type.unit, f.required
        out.append(Control(f.name, f.label, kind, unit, required, options, value, problems))
    return out


def project_from_form(
    schema: Schema, form: Mapping[str, str]
) -> tuple[dict[str, Any], list[FactError]]:
    """The project from the non-empty controls: numbers as floats, 是/否 as booleans. A
    number that does not parse is an error here; the schema checks everything else."""
    project: dict[str, Any] = {}
    errors = []
    for f in schema.fields:
        raw = form.get(f.name, "").strip()
        if not raw:
            continue
        if f.type.kind == "number":
            try:
                project[f.name] = float(raw)
            except ValueError:
                unit = f"（单位：{f.type.unit}）" if f.type.unit else ""
                message = f"{f.label}须为数字{unit}，实为“{raw}”"
                errors.append(FactError(f.name, Code.WRONG_TYPE, message))
        elif f.type.kind == "bool" and raw in ("true", "false"):
            project[f.name] = raw == "true"
        else:
            project[f.name] = raw  # a bad 是/否 value stays a string: the schema says why
    return project, errors


def _examples(service: Service) -> dict[str, dict[str, str]]:
    """The policy set's examples as form values (with `_date` when the example gives one)."""
    return {
        e.name: form_values(e.project) | ({DATE: e.date} if e.date else {})
        for e in service.examples
    }


def _form_page(
    service: Service,
    values: Mapping[str, str],
    explain: bool,
    errors: Sequence[FactError] = (),
    status: int = 200,
) -> HTMLResponse:
    schema = service.policies.schema
    by_field: dict[str, list[str]] = {}
    labels = {f.name: f.label for f in schema.fields} | {DATE: "评估日期"}
    summary = []
    for e in errors:
        text = error_text(e, schema, values, labels)
        by_field.setdefault(e.field, []).append(text)
        summary.append((e.field if e.field in labels else "", text))
    return _page(
        "index.html",
        status,
        controls=controls(schema, values, by_field),
        date=values.get(DATE, ""),
        date_errors=by_field.get(DATE, []),
        explain=explain,
        summary=summary,
        examples=list(_examples(service)),
        regions=known_regions(service.policies),
        revision=service.policies.revision,
    )


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    """The form, prefilled from `?_example=<policies/examples file>` and any `?field=value`."""
    service = _runtime(request).service
    query = dict(request.query_params)
    values = dict(_examples(service).get(query.pop(EXAMPLE, ""), {}))
    values.update(query)
    explain = values.pop(EXPLAIN, "on") not in ("", "0", "off", "false")
    return _form_page(service, values, explain)


@router.post("/decide", response_model=None)
async def decide(request: Request) -> Response:
    runtime = _runtime(request)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        message = "表单格式不支持"
        return _message(415, message, "请以 application/x-www-form-urlencoded 提交表单")
    body = (await request.body()).decode("utf-8", errors="replace")
    form = dict(parse_qsl(body, keep_blank_values=True))
    decided = await run_in_threadpool(_decide, runtime, form)
    if isinstance(decided, Response):
        return decided
    try:
        await runtime.decision_log.write(decided.entry)  # shown only once it is in the log
    except DecisionLogError as exc:
        return _message(503, "决定未能记录，请稍后重试", str(exc))
    return RedirectResponse(f"/decisions/{quote(decided.decision_id)}", 303)


def _decide(runtime: Runtime, form: dict[str, str]) -> Response | Logged:
    """The decision, or the form again with what is wrong."""
    service = runtime.service
    schema = service.policies.schema
    explain = bool(form.get(EXPLAIN))
    date = form.get(DATE, "").strip() or None
    project, errors = project_from_form(schema, form)
    wrong_date = bad_date(date, DATE) if date else None
    if errors or wrong_date:
        # Report every problem at once: the schema's own findings besides ours.
        errors = [*([wrong_date] if wrong_date else []), *errors, *schema.validate(project)[1]]
        return _form_page(service, form, explain, errors, 422)
    try:
        return runtime.decide(project, date, explain)
    except InputError as exc:
        return _form_page(service, form, explain, exc.errors, 422)


# ------------------------------------------------------------------------ the decision


@router.get("/decisions/lookup", response_model=None)
def lookup(request: Request, id: str = "") -> Response:
    wanted = id.strip()
    if not wanted:
        return _not_found("请输入决定编号", lookup=True)
    if _runtime(request).decision(wanted) is None:
        return _not_found("没有这个决定", wanted, lookup=True)
    return RedirectResponse(f"/decisions/{quote(wanted, safe='')}", 303)


@router.get("/decisions/{decision_id}", response_class=HTMLResponse)
def decision_page(request: Request, decision_id: str) -> HTMLResponse:
    runtime = _runtime(request)
    logged = runtime.decision(decision_id)
    if logged is None:
        return _not_found("没有这个决定", decision_id, lookup=True)
    service = runtime.service
    return _page("decision.html", **decision_view(service.policies, service.corpus, logged))


# ------------------------------------------------------------------------- the policies


@router.get("/policies", response_class=HTMLResponse)
def policies_page(request: Request) -> HTMLResponse:
    service = _runtime(request).service
    rows = [(p, service.coverage_of(p.header.source)) for p in service.policies.policies]
    unencoded = [c for c in service.coverage if not c.policy]
    return _page(
        "policies.html",
        rows=rows,
        unencoded=unencoded,
        title=service.title,
        revision=service.policies.revision,
    )


@router.get("/policies/{policy_id}", response_class=HTMLResponse)
def policy_page(request: Request, policy_id: str) -> HTMLResponse:
    service = _runtime(request).service
    policy = service.policies.policy(policy_id)
    if policy is None:
        return _not_found("没有这个政策", policy_id)
    try:
        document = service.corpus.document(policy.header.source)
    except LookupError:
        return _not_found("找不到来源文件", policy.header.source)
    cov = service.coverage_of(document.id)
    assert cov is not None  # every document of the corpus has its coverage
    status = {c.clause: c for c in cov.clauses}
    quotes: dict[str, list[str]] = {}
    for _, cite in policy.cites():
        quotes.setdefault(cite.clause, []).append(cite.quote)
    clauses = []
    for clause in document.clauses:
        spans = [at for q in quotes.get(clause.id, []) if (at := locate(clause.text, q))]
        clauses.append((clause, status.get(clause.id), marked(clause.text, spans)))
    source = notice(service.policies, service.corpus, document.id)
    return _page("policy.html", policy=policy, document=document, clauses=clauses, notice=source)


# ---------------------------------------------------------------------------- search


@router.get("/search", response_class=HTMLResponse)
async def search_page(request: Request, q: str = "", region: str = "") -> HTMLResponse:
    # The search and the route cards embed the question: on the worker's one embedding
    # thread, as the API's searches and route misses are (server.direct_route says why).
    runtime = _runtime(request)
    return await runtime.embedded(_search_page, runtime, q, region)


def _search_page(runtime: Runtime, q: str, region: str) -> HTMLResponse:
    service = runtime.service
    query, within = q.strip()[:MAX_QUERY], region.strip()[:MAX_REGION]
    hits: list[dict[str, Any]] = []
    cards: list[RouteCard] = []
    problem = degraded = None
    answered = False  # some clause reaches the lowest relevance
    if query:
        try:
            found = service.search(query, SEARCH_HITS, within or None)
            cards = route_cards(service, query, within)
            degraded = found.degraded_reason
        except Exception as exc:  # search is an extra: the page says so, never a 500
            # The details (paths, driver messages) go to the log only.
            problem = report(log, f"clause search failed for {query!r}", exc)
        else:
            hits = search_hits(found, service.policies, service.corpus)
            answered = found.found
    known = known_regions(service.policies)
    return _page(
        "search.html",
        503 if problem else 200,
        q=query,
        region=within,
        hits=hits,
        answered=answered,
        cards=cards,
        problem=problem,
        degraded=degraded,
        regions=known,
        suggestions=suggest(within, known) if within else [],
    )


# ---------------------------------------------------------------------------- static


@router.get("/static/{name}", response_model=None)
def static(name: str) -> Response:
    """Only the files that sit directly in server/static/."""
    files = {p.name: p for p in STATIC.iterdir() if p.is_file()}
    path = files.get(name)
    if path is None:
        return _not_found("没有这个文件", name)
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=kind, headers={"Cache-Control": "max-age=300"})
