"""The `zhengce` command line. Every failure on user input is a message and an exit code
(1: the input or the policies are wrong, 2: the command was called wrongly), never a traceback."""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from dsl.errors import DslError
from dsl.fmt import format_module
from dsl.load import SCHEMA_FILE, load_files, policy_files
from dsl.parser import parse
from dsl.policytest import TestFileError, rule_coverage, run_files
from server import present
from server.service import ENGINES, InputError, PolicyLoadError, Service, project_root

if TYPE_CHECKING:
    from kb.index import HybridIndex

app = typer.Typer(
    help="zhengce (政策): policy-as-code for industrial-park and development-zone policy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
kb_app = typer.Typer(
    help="The source documents as clauses.", no_args_is_help=True, rich_markup_mode="markdown"
)
app.add_typer(kb_app, name="kb")

out = Console()
err = Console(stderr=True, soft_wrap=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
DateOpt = Annotated[
    str | None, typer.Option("--date", help="Evaluation date YYYY-MM-DD (default: today).")
]
EngineOpt = Annotated[str, typer.Option("--engine", help=f"Evaluator: {' or '.join(ENGINES)}.")]


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def load_service() -> Service:
    try:
        return Service.load()
    except PolicyLoadError as e:
        err.print(e.result.render(), highlight=False, markup=False, soft_wrap=True)
        fail(f"the policy set has {len(e.result.errors)} error(s); run `zhengce check`")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@app.command()
def check(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Policy files or folders (default: policies/).")
    ] = None,
) -> None:
    """Parse and check policies: syntax, schema types, units, and every quote against its
    source clause. Prints all problems at once as file:line:col and exits 1 on any error."""
    root = project_root()
    files: list[Path] = []
    schema = root / "policies" / SCHEMA_FILE
    for p in paths or [root / "policies"]:
        if p.is_dir():
            files += policy_files(p)
            if (p / SCHEMA_FILE).exists():
                schema = p / SCHEMA_FILE
        elif p.exists():
            files.append(p)
        else:
            fail(f"no such file or folder: {p}", 2)
    from kb.corpus import Corpus

    result = load_files([schema, *files], schema, Corpus(root))
    if result.diagnostics:
        out.print(result.render(), highlight=False, markup=False, soft_wrap=True)
    n_err, n_warn = len(result.errors), len(result.diagnostics) - len(result.errors)
    summary = f"{len(files)} policy file(s): {n_err} error(s), {n_warn} warning(s)"
    if n_err:
        fail(summary)
    out.print(f"[green]ok[/green] {summary}")


@app.command()
def fmt(
    files: Annotated[
        list[Path] | None, typer.Argument(help="Files (default: policies/*.zc).")
    ] = None,
    check_only: Annotated[
        bool, typer.Option("--check", help="Only report files that are not in canonical form.")
    ] = False,
) -> None:
    """Rewrite policy files in canonical form (formatting never changes their meaning)."""
    folder = project_root() / "policies"
    targets = files or sorted(folder.glob("*.zc"))
    changed, broken = [], 0
    for path in targets:
        try:
            text = path.read_text(encoding="utf-8")
            module = parse(text, str(path))
        except OSError as e:
            fail(f"{path}: {e.strerror}", 2)
        except DslError as e:
            broken += 1
            err.print(
                "\n".join(d.render(text) for d in e.diagnostics), markup=False, soft_wrap=True
            )
            continue
        canonical = format_module(module)
        if canonical != text:
            changed.append(path)
            if not check_only:
                path.write_text(canonical, encoding="utf-8")
    verb = "would reformat" if check_only else "reformatted"
    for path in changed:
        out.print(f"{verb} {path}")
    if broken:
        fail(f"{broken} file(s) could not be parsed and were left as they are")
    if check_only and changed:
        raise typer.Exit(1)
    out.print(f"{len(targets) - len(changed)} file(s) already canonical")


@app.command("test")
def test_policies(
    files: Annotated[
        list[Path] | None, typer.Argument(help="YAML test files (default: policies/tests/*.yaml).")
    ] = None,
    engine: EngineOpt = "rete",
) -> None:
    """Run the policy tests and report which rules and routes no test exercises."""
    service = load_service()
    targets = files or sorted((service.root / "policies" / "tests").glob("*.yaml"))
    try:
        results = run_files(service.policies, service.engine(engine), targets)
    except TestFileError as e:
        fail(str(e))
    for r in results:
        if not r.passed:
            out.print(f"[red]FAIL[/red] {r.file} case {r.index}: {r.note}", highlight=False)
            for f in r.failures:
                out.print(f"     {f}", highlight=False, markup=False)
    covered, uncovered = rule_coverage(service.policies, results)
    total = len(covered) + len(uncovered)
    passed = sum(r.passed for r in results)
    out.print(f"coverage: {len(covered)}/{total} rules and routes exercised by some case")
    for key in sorted(uncovered):
        out.print(f"  not exercised by any case: {key}", highlight=False)
    out.print(f"{passed} passed, {len(results) - passed} failed")
    if passed != len(results):
        raise typer.Exit(1)


def read_project(path: Path) -> tuple[dict[str, Any], str | None]:
    """A project JSON file: the project object itself, or {"project": {...}, "date": ...}."""
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}", 2)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        fail(f"{path}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}")
    if isinstance(data, dict) and isinstance(data.get("project"), dict):
        date = data.get("date")
        return data["project"], str(date) if date else None
    if not isinstance(data, dict):
        fail(f"{path}: expected a JSON object with the project's facts")
    return data, None


@app.command("eval")
def evaluate(
    project: Annotated[Path, typer.Argument(help="Project JSON file ('-' for stdin).")],
    explain: Annotated[
        bool, typer.Option("--explain/--no-explain", help="Say why each other rule did not apply.")
    ] = False,
    date: DateOpt = None,
    as_json: JsonFlag = False,
    engine: EngineOpt = "rete",
) -> None:
    """Evaluate a project against the policies in force for its region and date."""
    facts, file_date = read_project(project)
    service = load_service()
    try:
        decision = service.evaluate(facts, date or file_date, explain or as_json, engine)
    except InputError as e:
        for x in e.errors:
            err.print(f"[red]{x.code}[/red] {x.field}: {x.message}", highlight=False)
        fail("the project does not match the fact schema (policies/schema.zc)")
    except ValueError as e:
        fail(str(e), 2)
    if as_json:
        data = decision.to_json()
        if not explain:
            data.pop("why_not")
        print_json(data)
    else:
        out.print(present.decision(decision, explain))


@app.command()
def route(
    matter: Annotated[
        str,
        typer.Argument(
            help="A routing rule id (policy/name or name), or the matter in plain words, "
            "e.g. 园区遇到重大困难找谁协调."
        ),
    ],
    region: Annotated[str, typer.Option("--region", help="Region path, e.g. 甘肃省/平凉市.")],
    date: DateOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Who leads and who shares a matter (牵头单位 / 责任单位), by routing rule id or by the
    matter in plain words. Free text is matched against the rules in force for the region and
    date; below the confidence threshold it says so, lists the nearest rules and exits 1."""
    service = load_service()
    if not service.is_route_id(matter):
        route_free_text(service, matter, region, date, as_json)
        return
    answer = service.route(matter, region, date)
    if answer is None:
        known = service.route_ids(region, date)
        if as_json:
            print_json({"match": None, "candidates": known})
        listing = "\n  ".join(known) if known else "(none in force for this region and date)"
        fail(f"no routing rule {matter!r} in force for {region}; known here:\n  {listing}")
    if as_json:
        print_json(answer.to_json())
    else:
        out.print(present.route(answer))


@contextmanager
def reported_warnings() -> Iterator[None]:
    """Show kb's DenseUnavailableWarning (semantic search is off) as one clear line on
    stderr, once however many indexes say it; other warnings are shown as Python would."""
    from kb.index import DenseUnavailableWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    said = set()
    for w in caught:
        if not issubclass(w.category, DenseUnavailableWarning):
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
        elif str(w.message) not in said:
            said.add(str(w.message))
            err.print(f"[yellow]warning:[/yellow] {w.message}", highlight=False)


def route_free_text(
    service: Service, text: str, region: str, date: str | None, as_json: bool
) -> None:
    from server import present_kb

    if date is not None:
        check_date(date)
    if not service.route_ids(region, date):
        # Nothing to match against: say why instead of showing an empty candidate list.
        day = date or "today"
        reason = f"no routing rules are in force for {region} on {day}"
        if as_json:
            print_json({"match": None, "candidates": [], "reason": reason})
        fail(f"{reason}; a policy's region and effective period decide this (try --date)")
    with reported_warnings():
        found = service.route_text(text, region, date)
    if as_json:
        print_json(found.to_json())
    else:
        out.print(present_kb.route_match(found, text))
    if found.answer is None:
        raise typer.Exit(1)


def check_date(date: str) -> None:
    import datetime as dt

    try:
        dt.date.fromisoformat(date)
    except ValueError:
        fail(f"date must be YYYY-MM-DD, got {date!r}", 2)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    k: Annotated[int, typer.Option("-k", help="How many clauses to show.", min=1)] = 10,
    region: Annotated[
        str | None,
        typer.Option(
            "--region", help="Only documents of this region, or of a region containing it."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Search the source documents clause by clause (BM25 + semantic, fused), best first,
    with the query's words highlighted. Builds the index on first use."""
    from kb.search import KnowledgeBase
    from server import present_kb

    with reported_warnings():
        kb = KnowledgeBase.open(project_root())
        hits = kb.search(query, k=k, region=region)
    if as_json:
        print_json(
            {
                "hits": [
                    {"document": h.document, "clause": h.clause, "text": h.text, "score": h.score}
                    for h in hits
                ],
                "dense_available": kb.dense_available,
            }
        )
    else:
        out.print(present_kb.hits(hits, query))


@app.command("coverage")
def coverage_cmd(as_json: JsonFlag = False) -> None:
    """Per document: clauses encoded, deliberately skipped, and still open. Exits 1 when a
    clause that assigns a path, unit or prohibition is open without a recorded reason."""
    service = load_service()
    docs = service.coverage
    if as_json:
        print_json(
            [
                {
                    "document": d.document,
                    "policy": d.policy,
                    "clauses": [c.__dict__ | {"failing": c.failing} for c in d.clauses],
                }
                for d in docs
            ]
        )
    else:
        out.print(present.coverage(docs))
        for d in docs:
            for c in d.failing:
                out.print(
                    f"  {d.document} {c.clause}: assigns a path, unit or prohibition but "
                    "is neither encoded nor skipped with a reason",
                    highlight=False,
                )
    if any(d.failing for d in docs):
        raise typer.Exit(1)


@kb_app.command("show")
def kb_show(
    document: Annotated[str, typer.Argument(help="Document id, e.g. pingliang-2023.")],
    clause: Annotated[str | None, typer.Argument(help="Clause id, e.g. 二.4.")] = None,
) -> None:
    """Print a document's clause tree, or one clause in full."""
    from kb.corpus import Corpus, UnknownClause, UnknownDocument
    from kb.show import render_tree

    try:
        doc = Corpus(project_root()).document(document)
        out.print(render_tree(doc, clause))
    except (UnknownDocument, UnknownClause) as e:
        fail(str(e))


@kb_app.command("build")
def kb_build() -> None:
    """Build (or check) the embedding model and the search indexes, with progress; a second
    run reuses them. The cache is ZHENGCE_CACHE, else var/index under the project."""
    from kb.model import ModelUnavailable, ensure_model
    from kb.search import KnowledgeBase, default_cache_dir

    root = project_root()
    cache = default_cache_dir(root)
    started = time.perf_counter()
    try:
        folder = ensure_model(cache / "model", progress=lambda m: err.print(m, highlight=False))
        seconds = time.perf_counter() - started
        out.print(f"model    {folder}  ({seconds:.1f} s)", highlight=False, soft_wrap=True)
    except ModelUnavailable as e:
        err.print(f"[yellow]warning:[/yellow] {e}", highlight=False)
    with reported_warnings():
        try:
            service: Service | None = Service.load(root)
        except PolicyLoadError as e:
            service = None
            err.print(
                f"[yellow]warning:[/yellow] the policies do not load ({len(e.result.errors)} "
                "error(s), see `zhengce check`): building the clause index only",
                highlight=False,
            )
        step = time.perf_counter()
        if service is not None:
            kb = service.searcher.knowledge_base(progress=True)
        else:
            kb = KnowledgeBase.open(root)
        report_index("clauses", kb.index, time.perf_counter() - step)
        if service is not None:
            step = time.perf_counter()
            routes = service.searcher.route_index(progress=True)
            report_index("routes ", routes.index, time.perf_counter() - step)
    mode = "BM25 + semantic" if kb.dense_available else "BM25 only (semantic search is off)"
    total = time.perf_counter() - started
    out.print(f"ready in {total:.1f} s: {mode}; cache {cache}", highlight=False, soft_wrap=True)


def report_index(label: str, index: HybridIndex, seconds: float) -> None:
    verb = f"built in {index.build_seconds:.1f} s" if index.built else "reused, up to date"
    out.print(
        f"{label}  {index.folder}  {len(index.entries)} entries, {verb} ({seconds:.1f} s)",
        highlight=False,
        soft_wrap=True,
    )


@kb_app.command("add")
def kb_add(
    page: Annotated[Path, typer.Argument(help="The raw text of the document (a saved page).")],
    doc_id: Annotated[str, typer.Option("--id", help="New document id, e.g. wuhan-2024.")],
    meta: Annotated[Path, typer.Option("--meta", help="YAML with title, region, issued …")],
    overwrite: Annotated[bool, typer.Option("--overwrite")] = False,
) -> None:
    """Add a source document: clean it, segment it, write it into policies/sources/."""
    import yaml

    from kb.ingest import SourceError, add_document

    try:
        metadata = yaml.safe_load(meta.read_text(encoding="utf-8")) or {}
        raw = page.read_text(encoding="utf-8")
        txt, yml = add_document(raw, doc_id, metadata, project_root(), overwrite=overwrite)
    except (OSError, yaml.YAMLError, SourceError) as e:
        fail(str(e))
    out.print(f"wrote {txt} and {yml}; see it with `zhengce kb show {doc_id}`")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes (one core each).", min=1)
    ] = 1,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    """Serve the JSON API (/v1, docs at /docs), the health checks and the reviewer's page
    (/). Settings come from the environment: ZHENGCE_ROOT, ZHENGCE_DECISION_LOG (an
    SQLAlchemy URL; default a SQLite file under var/), ZHENGCE_ADMIN_KEY, ZHENGCE_CACHE."""
    import uvicorn

    from server.config import Settings, SettingsError

    try:
        settings = Settings.from_env()
        # Check the policies here, once, so that a broken set is one clear message rather
        # than a traceback from every worker.
        Service.load(settings.root)
    except SettingsError as e:
        fail(str(e), 2)
    except PolicyLoadError as e:
        err.print(e.result.render(), highlight=False, markup=False, soft_wrap=True)
        fail(f"the policy set has {len(e.result.errors)} error(s); run `zhengce check`")
    out.print(
        f"zhengce on http://{host}:{port}/ (API docs /docs), {workers} worker(s), "
        f"decision log {settings.decision_log_url}",
        highlight=False,
        soft_wrap=True,
    )
    uvicorn.run(
        "server.app:serving_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        http="server.tcp:NoDelayProtocol",  # TCP_NODELAY: see server/tcp.py
    )


if __name__ == "__main__":
    app()
