"""The `zhengce` command line. Every use case goes through the service (server.service); every
`--json` prints the same view (server.views) the HTTP API answers. Every failure on user input
is a message and an exit code (1: the input or the policies are wrong, 2: the command was
called wrongly), never a traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from dsl.errors import DslError
from dsl.fmt import format_module
from dsl.parser import parse
from dsl.policytest import TestFileError, rule_coverage, run_files
from server import present, present_kb, views
from server.cli_analyze import analyze_command
from server.cli_common import (
    Context,
    JsonFlag,
    checked_date,
    context,
    err,
    fail,
    out,
    print_view,
    reported_warnings,
)
from server.cli_kb import kb_app
from server.config import VARIABLES, Settings, SettingsError
from server.service import ENGINES, InputError, UnknownPolicy
from server.service import check as check_policies

app = typer.Typer(
    help="zhengce (政策): policy-as-code for industrial-park and development-zone policy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
app.add_typer(kb_app, name="kb")
app.command("analyze")(analyze_command)


@app.callback()
def main(ctx: typer.Context) -> None:
    if ctx.obj is None:
        try:
            ctx.obj = Context(Settings.from_env())
        except SettingsError as e:
            fail(str(e), 2)


DateOpt = Annotated[
    str | None, typer.Option("--date", help="Evaluation date YYYY-MM-DD (default: today).")
]
EngineOpt = Annotated[str, typer.Option("--engine", help=f"Evaluator: {' or '.join(ENGINES)}.")]


# ------------------------------------------------------------------------------ drafting


@app.command()
def check(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Policy files or folders (default: policies/).")
    ] = None,
) -> None:
    """Parse and check policies: syntax, schema types, units, and every quote against its
    source clause. Prints all problems at once as file:line:col and exits 1 on any error."""
    try:
        result, n_files = check_policies(context(ctx).settings.root, paths or [])
    except FileNotFoundError as e:
        fail(f"no such file or folder: {e}", 2)
    if result.diagnostics:
        out.print(result.render(), highlight=False, markup=False, soft_wrap=True)
    n_err, n_warn = len(result.errors), len(result.diagnostics) - len(result.errors)
    summary = f"{n_files} policy file(s): {n_err} error(s), {n_warn} warning(s)"
    if n_err:
        fail(summary)
    out.print(f"[green]ok[/green] {summary}")


@app.command()
def fmt(
    ctx: typer.Context,
    files: Annotated[
        list[Path] | None, typer.Argument(help="Files (default: policies/*.zc).")
    ] = None,
    check_only: Annotated[
        bool, typer.Option("--check", help="Only report files that are not in canonical form.")
    ] = False,
) -> None:
    """Rewrite policy files in canonical form (formatting never changes their meaning)."""
    folder = context(ctx).settings.root / "policies"
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
    ctx: typer.Context,
    files: Annotated[
        list[Path] | None, typer.Argument(help="YAML test files (default: policies/tests/*.yaml).")
    ] = None,
    engine: EngineOpt = "rete",
) -> None:
    """Run the policy tests and report which rules and routes no test exercises."""
    service = context(ctx).service()
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


# ---------------------------------------------------------------------------- use cases


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
    ctx: typer.Context,
    project: Annotated[Path, typer.Argument(help="Project JSON file ('-' for stdin).")],
    explain: Annotated[
        bool,
        typer.Option(
            "--explain/--no-explain",
            help="Say why each other rule did not apply (with --json: and related clauses of "
            "other documents, as the API's `explain`).",
        ),
    ] = False,
    date: DateOpt = None,
    as_json: JsonFlag = False,
    engine: EngineOpt = "rete",
) -> None:
    """Evaluate a project against the policies in force for its region and date. `--json`
    prints the body of `POST /v1/evaluate` (with `decision_id` null: nothing is logged)."""
    facts, file_date = read_project(project)
    if engine not in ENGINES:
        fail(f"unknown engine {engine!r}; one of {', '.join(ENGINES)}", 2)
    service = context(ctx).service()
    try:
        with reported_warnings():
            # Related clauses need the search index: only for the JSON, where the API has them.
            evaluation = service.evaluate(
                facts, date or file_date, explain, engine, related=explain and as_json
            )
    except InputError as e:
        for x in e.errors:
            err.print(f"[red]{x.code}[/red] {x.field}: {x.message}", highlight=False)
        fail("the project does not match the fact schema (policies/schema.zc)")
    if as_json:
        print_view(views.decision(evaluation, None))
    else:
        out.print(present.decision(evaluation.decision, explain))


@app.command()
def route(
    ctx: typer.Context,
    matter: Annotated[
        str,
        typer.Argument(
            help="A routing rule id (policy/name or name), or the matter in plain words, "
            "e.g. 园区遇到重大困难找谁协调."
        ),
    ],
    region: Annotated[str, typer.Option("--region", help="Region path, e.g. 甘肃省/平凉市.")],
    date: DateOpt = None,
    k: Annotated[int, typer.Option("-k", help="How many candidates to list.", min=1)] = 5,
    as_json: JsonFlag = False,
) -> None:
    """Who leads, who is responsible and who assists (牵头 / 责任 / 配合), by routing rule id
    or by the matter in plain words. Free text is matched against the rules in force for the
    region and date; below the confidence threshold it says so, lists the nearest rules and
    exits 1.
    `--json` prints the body of `POST /v1/route`."""
    service = context(ctx).service()
    with reported_warnings():
        found = service.route(matter, region, checked_date(date), k)
    if as_json:
        print_view(views.route(found, k))
    elif found.answer is not None or found.threshold is not None:
        out.print(present_kb.route_match(found, matter))
    if found.answer is None:
        if found.threshold is None:  # nothing was matched: no rule in force, or a wrong id
            fail(f"{found.message}; a policy's region and effective period decide this")
        raise typer.Exit(1)


@app.command()
def search(
    ctx: typer.Context,
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
    with the query's words highlighted. Builds the index on first use. `--json` prints the
    body of `GET /v1/search`."""
    service = context(ctx).service()
    with reported_warnings():
        found = service.search(query, k, region)
    if as_json:
        print_view(views.search(found))
    else:
        out.print(present_kb.hits([t.hit for t in found.hits], query))


@app.command("coverage")
def coverage_cmd(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Per document: clauses encoded, deliberately skipped, and still open. Exits 1 when a
    clause that assigns a path, unit or prohibition is open without a recorded reason.
    `--json` prints the body of `GET /v1/coverage`."""
    docs = context(ctx).service().coverage
    if as_json:
        print_view(views.coverage(docs))
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


@app.command()
def policies(
    ctx: typer.Context,
    policy_id: Annotated[
        str | None, typer.Argument(help="One policy's id, e.g. pingliang-2023.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """The policy set, or one policy's rules, routes, parameters and clause coverage.
    `--json` prints the body of `GET /v1/policies` or `GET /v1/policies/{id}`."""
    service = context(ctx).service()
    if policy_id is None:
        listing = service.policy_list()
        if as_json:
            print_view(views.policy_list(listing))
        else:
            out.print(present.policy_list(listing))
        return
    try:
        found = service.policy(policy_id)
    except UnknownPolicy as e:
        fail(str(e))
    if as_json:
        print_view(views.policy(found))
    else:
        out.print(present.policy(found))


def settings_help() -> str:
    return "\n\n".join(f"{v.name}: {v.meaning} (default: {v.default})." for v in VARIABLES)


@app.command(
    help="Serve the JSON API (/v1, docs at /docs), the health checks and the reviewer's page "
    "(/). Settings come from the environment:\n\n" + settings_help()
)
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes (one core each).", min=1)
    ] = 1,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    import uvicorn

    from server.decision_log import shown_url

    settings = context(ctx).settings
    # Check the policies here, once, so that a broken set is one clear message rather than a
    # traceback from every worker.
    context(ctx).service()
    out.print(
        f"zhengce on http://{host}:{port}/ (API docs /docs), {workers} worker(s), "
        f"decision log {shown_url(settings.decision_log_url)}",  # never its password
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
        http="server.tcp:HttpProtocol",  # TCP_NODELAY, header timeout: see server/tcp.py
    )


if __name__ == "__main__":
    app()
