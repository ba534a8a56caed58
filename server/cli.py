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
from kb.corpus import SourceError
from kb.lexicon_file import check_lexicon
from kb.source_check import check_sources
from server import present, views
from server.cli_analyze import analyze_command
from server.cli_common import (
    DateOpt,
    JsonFlag,
    command_line,
    context,
    err,
    fail,
    out,
    print_view,
    reported_warnings,
)
from server.cli_draft import add_command, draft_command
from server.cli_impact import impact_command
from server.cli_kb import kb_app
from server.cli_lsp import lsp_command
from server.cli_search import route, search
from server.cli_serve import SERVE_HELP, serve
from server.search import LEXICON
from server.service import DEFAULT_ENGINE, ENGINES, InputError, UnknownPolicy
from server.service import check as check_policies

app = command_line(
    "zhengce (政策): policy-as-code for industrial-park and development-zone policy."
)
app.add_typer(kb_app, name="kb")
app.command("analyze")(analyze_command)
app.command("add")(add_command)
app.command("draft")(draft_command)
app.command("lsp")(lsp_command)
app.command("impact")(impact_command)
app.command()(route)
app.command()(search)

EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help=f"Evaluator: {', '.join(ENGINES)} (they agree; compiled is the fastest).",
    ),
]


# ------------------------------------------------------------------------------ drafting


@app.command()
def check(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Policy files or folders (default: policies/).")
    ] = None,
) -> None:
    """Parse and check policies: syntax, schema types, units, and every quote against its
    source clause; the metadata of the sources (policies/sources/*.yaml) and the search
    lexicon (policies/lexicon.yaml). Prints all problems at once as file:line:col and exits
    1 on any error."""
    root = context(ctx).settings.root
    sources = check_sources(root)
    try:
        result, n_files = check_policies(root, paths or [])
    except FileNotFoundError as e:
        fail(f"no such file or folder: {e}", 2)
    except SourceError:
        result = None  # a policy cites a source that does not load: the report says why
    lexicon = check_lexicon(root / LEXICON, [d.text for d in sources.documents])
    diagnostics = result.render() if result is not None and result.diagnostics else ""
    for report in (sources.render(), diagnostics, lexicon.render()):
        if report:
            out.print(report, highlight=False, markup=False, soft_wrap=True)
    if result is None:
        checked = "规则文件未检查：所引用的来源文件无法读取"
    else:
        n_err, n_warn = len(result.errors), len(result.diagnostics) - len(result.errors)
        checked = f"规则文件 {n_files} 个：错误 {n_err} 个，警告 {n_warn} 个"
    summary = f"{checked}；{sources.summary()}；{lexicon.summary()}"
    if result is None or result.errors or sources.problems or lexicon.errors:
        fail(summary)
    out.print(f"[green]通过[/green] {summary}")


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
    engine: EngineOpt = DEFAULT_ENGINE,
    policy: Annotated[
        str | None,
        typer.Option(
            "--policy",
            help="One policy only: its tests (policies/tests/ID.yaml unless files are given) "
            "and its rules and routes in the coverage.",
        ),
    ] = None,
) -> None:
    """Run the policy tests and report which rules and routes no test exercises."""
    service = context(ctx).service()
    if policy is not None and service.policies.policy(policy) is None:
        fail(str(UnknownPolicy(policy, [p.id for p in service.policies.policies])), 2)
    folder = service.root / "policies" / "tests"
    targets = files or ([folder / f"{policy}.yaml"] if policy else sorted(folder.glob("*.yaml")))
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
    if policy is not None:
        covered = {k for k in covered if k.startswith(f"{policy}/")}
        uncovered = {k for k in uncovered if k.startswith(f"{policy}/")}
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
    engine: EngineOpt = DEFAULT_ENGINE,
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


@app.command("coverage")
def coverage_cmd(
    ctx: typer.Context,
    document: Annotated[
        str | None,
        typer.Argument(help="One source document, or the policy encoding it (default: all)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Per document: clauses encoded, deliberately skipped, and still open. Exits 1 when a
    clause that assigns a path, unit or prohibition is open without a recorded reason.
    `--json` prints the body of `GET /v1/coverage` (with a DOCUMENT, that document only)."""
    service = context(ctx).service()
    try:
        docs = (service.document_coverage(document),) if document else service.coverage
    except UnknownPolicy as e:
        fail(str(e), 2)
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


app.command(help=SERVE_HELP)(serve)


if __name__ == "__main__":
    app()
